/* early_probe - linked against libearly_getenv.so: prints what its constructor's getenv
 * saw (before the shim's constructor), what environ held then, and what getenv says now. */
#include <stdio.h>
#include <stdlib.h>

const char *early_getenv_value(void);
const char *early_environ(void);

int main(void)
{
    const char *e = early_getenv_value(), *raw = early_environ(), *now = getenv("AWS_ACCESS_KEY_ID");
    printf("early_getenv=%s\n", e ? e : "(unset)");
    printf("early_environ=%s\n", raw ? raw : "(unset)");
    printf("main_getenv=%s\n", now ? now : "(unset)");
    return 0;
}
