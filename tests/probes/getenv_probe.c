/* getenv_probe - prints what getenv (or secure_getenv with --secure) answers for the
 * credential and region variables, one "NAME=value" or "NAME unset" line each.
 * Extra arguments name other variables to print instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    static const char *defaults[] = {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION", "AWS_SESSION_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION",
        NULL};
    int secure = 0, first = 1;
    if (argc > 1 && strcmp(argv[1], "--secure") == 0) {
        secure = 1;
        first = 2;
    }
    const char **names = argc > first ? (const char **)argv + first : defaults;
    for (; *names; names++) {
        const char *v = secure ? secure_getenv(*names) : getenv(*names);
        if (v)
            printf("%s=%s\n", *names, v);
        else
            printf("%s unset\n", *names);
    }
    return 0;
}
