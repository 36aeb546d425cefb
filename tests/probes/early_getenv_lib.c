/* A library whose constructor calls getenv: it runs before the preloaded shim's own
 * constructor (ld.so initialises a program's DT_NEEDED libraries first). It records what
 * getenv answered and whether environ already held the value at that moment. */
#include <stdlib.h>
#include <string.h>

extern char **environ;
static const char *early_value;
static const char *early_environ_value;

static const char *scan(const char *name)
{
    size_t n = strlen(name);
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

__attribute__((constructor)) static void early(void)
{
    early_environ_value = scan("AWS_ACCESS_KEY_ID");
    early_value = getenv("AWS_ACCESS_KEY_ID");
}

const char *early_getenv_value(void)
{
    return early_value;
}

const char *early_environ(void)
{
    return early_environ_value;
}
