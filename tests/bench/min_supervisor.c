/* min_supervisor - the least any launcher that stays the parent can do: start the command
 * (vfork + exec), wait for it, exit with its status. No set-up, no signals, no clean-up.
 *
 *   min_supervisor CMD [ARG...]     vfork, exec CMD, wait
 *   min_supervisor -x CMD [ARG...]  exec CMD in place (no child: the other extreme)
 *
 * make bench spawns it beside awsrole-run to tell what supervising a command costs on the
 * machine from what the launcher adds to that. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: min_supervisor [-x] CMD [ARG...]\n");
        return 2;
    }
    if (strcmp(argv[1], "-x") == 0) {
        if (argc < 3)
            return 2;
        execv(argv[2], argv + 2);
        perror("min_supervisor: exec");
        return 127;
    }
    pid_t pid = vfork();
    if (pid == 0) {
        execv(argv[1], argv + 1);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 2;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
