/* setenv_probe - a program that changes its own credential variables and prints what
 * getenv answers after each step ("step NAME=value" or "step NAME unset"): setenv of the
 * key id and the region, unsetenv of the token, putenv of the secret, then clearenv. */
#include <stdio.h>
#include <stdlib.h>

static const char *const names[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                    "AWS_SESSION_TOKEN", "AWS_REGION", NULL};

static void show(const char *step)
{
    for (const char *const *n = names; *n; n++) {
        const char *v = getenv(*n);
        if (v)
            printf("%s %s=%s\n", step, *n, v);
        else
            printf("%s %s unset\n", step, *n);
    }
}

int main(void)
{
    static char put[] = "AWS_SECRET_ACCESS_KEY=put-secret";
    show("start");
    setenv("AWS_ACCESS_KEY_ID", "MINIOKEY", 1);
    setenv("AWS_REGION", "eu-west-3", 1);
    show("setenv");
    unsetenv("AWS_SESSION_TOKEN");
    show("unsetenv");
    putenv(put);
    show("putenv");
    clearenv();
    show("clearenv");
    return 0;
}
