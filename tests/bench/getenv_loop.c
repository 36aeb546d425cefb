/* getenv_loop - N iterations of getenv over the given names, for instruction counts.
 *
 *   getenv_loop N NAME [NAME...]
 *
 * NAME "@first" stands for the name of environ[0] (the entry libc's getenv finds fastest,
 * so the shim's fixed cost weighs most there). Run under callgrind twice, with two values
 * of N, and the difference divided by the difference of N is the cost of one call: the
 * program's start-up and any lazy set-up on the first call cancel out.
 * Prints, once, per name (never a value): NAME=unset, or NAME=set and where the pointer
 * getenv returned points: "environ" (the entry's own value, as libc answers) or
 * "elsewhere" (the shim's answer from the tree's segment). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: getenv_loop N NAME [NAME...]\n");
        return 2;
    }
    long n = atol(argv[1]);
    int k = argc - 2;
    const char **names = calloc((size_t)k, sizeof *names);
    static char first[256];
    for (int i = 0; i < k; i++) {
        names[i] = argv[i + 2];
        if (strcmp(names[i], "@first") == 0 && environ[0]) {
            size_t len = strcspn(environ[0], "=");
            if (len >= sizeof first)
                len = sizeof first - 1;
            memcpy(first, environ[0], len);
            first[len] = '\0';
            names[i] = first;
        }
    }
    volatile uintptr_t sink = 0;
    for (long it = 0; it < n; it++) {
        for (int i = 0; i < k; i++)
            sink ^= (uintptr_t)getenv(names[i]);
    }
    for (int i = 0; i < k; i++) {
        const char *v = getenv(names[i]);
        size_t len = strlen(names[i]);
        const char *own = NULL;
        for (char **e = environ; e && *e && !own; e++)
            if (strncmp(*e, names[i], len) == 0 && (*e)[len] == '=')
                own = *e + len + 1;
        printf("%s=%s\n", names[i], !v ? "unset" : v == own ? "set environ" : "set elsewhere");
    }
    (void)sink;
    return 0;
}
