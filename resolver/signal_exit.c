/* signal_exit.c - see signal_exit.h. */
#include "signal_exit.h"

#include <signal.h>
#include <unistd.h>

void awsr_die_of_signal(int sig)
{
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(128 + sig);
}
