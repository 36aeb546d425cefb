/* short_child - the child of tree_bench: what a short-lived tool does with credentials.
 * Reads the three credential variables with getenv, then reads the shared credentials
 * file ($AWS_SHARED_CREDENTIALS_FILE, else $HOME/.aws/credentials) and looks for an
 * aws_access_key_id line. Exits 0 when both were found; with -c, also checks that the file
 * holds the key getenv returned (the shim's redirection at work). Prints nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int check = argc > 1 && strcmp(argv[1], "-c") == 0;
    const char *akid = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = getenv("AWS_SESSION_TOKEN");
    if (!akid || !secret || !token)
        return 3;

    char path[4096];
    const char *shared = getenv("AWS_SHARED_CREDENTIALS_FILE");
    const char *home = getenv("HOME");
    if (shared)
        snprintf(path, sizeof path, "%s", shared);
    else if (home)
        snprintf(path, sizeof path, "%s/.aws/credentials", home);
    else
        return 4;
    FILE *f = fopen(path, "r");
    if (!f)
        return 5;
    char line[8192];
    int found = 0, same = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "aws_access_key_id", 17) == 0) {
            found = 1;
            if (strstr(line, akid))
                same = 1;
        }
    }
    fclose(f);
    if (!found)
        return 6;
    if (check && !same)
        return 7;
    return 0;
}
