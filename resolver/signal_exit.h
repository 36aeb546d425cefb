/* signal_exit.h - ending the process of a signal it was meant to die of. */
#ifndef AWSR_SIGNAL_EXIT_H
#define AWSR_SIGNAL_EXIT_H

/* Dies of sig with its default action (handler reset, signal unblocked), so a shell sees
 * the same end as without awsrole-run; 128 + sig if that does not end it. Async-signal-
 * safe: callable from a handler. Never returns. */
_Noreturn void awsr_die_of_signal(int sig);

#endif
