/* earlyopen.c - runs earlyopen_lib's constructor, then reads the same file from main. */
#include <stdio.h>
#include <stdlib.h>

void earlyopen_report(const char *tag, const char *path);

int main(void)
{
    const char *path = getenv("AWSR_PROBE_PATH");
    if (path == NULL)
        return 2;
    earlyopen_report("main_open", path);
    return 0;
}
