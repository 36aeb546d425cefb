/* process.h - running credential_process and mfa_process commands: shell-style splitting
 * (no shell) and a child run with captured, capped output and a deadline. */
#ifndef AWSR_PROCESS_H
#define AWSR_PROCESS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define AWSR_PROCESS_MAX_STDOUT (1024 * 1024)
#define AWSR_PROCESS_MAX_STDERR (64 * 1024)
#define AWSR_PROCESS_TIMEOUT_MS 60000  /* credential_process */

/* Splits a command line like Python's shlex.split (POSIX mode, no comments): quotes and
 * backslashes, no shell. 0 and a NULL-terminated malloc'd argv (at least one word), or -1
 * with status 253 and shlex's reason ("No closing quotation", "No escaped character"),
 * prefixed with `what`. The command text itself is never put in the message. */
int awsr_shell_split(const char *cmd, char ***argv_out, const char *what,
                     struct awsr_error *err);
void awsr_argv_free(char **argv);

struct awsr_proc_opts {
    long timeout_ms;       /* 0: AWSR_PROCESS_TIMEOUT_MS; $AWSR_PROCESS_TIMEOUT_MS (a test
                              hook, milliseconds) overrides every timeout when set */
    bool capture_stderr;   /* false: the child writes to our stderr (the terminal) */
    bool stderr_to_tty;    /* not captured: the child's stderr is our controlling terminal
                              when there is one (our own stderr may be captured, as
                              botocore captures a credential_process's) */
    bool own_pgrp;         /* run in a new process group, killed as a group on timeout */
    bool terminal;         /* with own_pgrp: when our group holds the terminal, the child's
                              group holds it while it runs (it may ask there, as under the
                              CLI), and gives it back; a Ctrl-C there ends this process too */
    const char *mfa_code;  /* given to the child as AWSROLE_MFA_CODE (a credential_process
                              that is awsrole-run may need the code this run was given);
                              NULL: the child gets none */
};

struct awsr_proc_result {
    char *out;             /* stdout, NUL-terminated, at most AWSR_PROCESS_MAX_STDOUT */
    size_t out_len;
    char *err;             /* stderr when captured (excess dropped), NUL-terminated */
    size_t err_len;
    int wstatus;           /* waitpid status */
    bool timed_out;        /* killed after the timeout */
    bool out_overflow;     /* killed because stdout passed the cap */
};

/* Runs argv (PATH search) with stdin inherited and stdout captured. 0 when the child ran
 * and was reaped (look at wstatus / timed_out / out_overflow); -1 with status 253 and
 * "<what>: cannot run 'ARGV0': REASON" when it could not be started. */
int awsr_process_run(char *const argv[], const struct awsr_proc_opts *opts,
                     struct awsr_proc_result *res, const char *what, struct awsr_error *err);
/* awsr_shell_split then awsr_process_run: the same results and messages. */
int awsr_process_run_command(const char *cmd, const struct awsr_proc_opts *opts,
                             struct awsr_proc_result *res, const char *what,
                             struct awsr_error *err);
/* Wipes (stdout may hold secrets) and frees the buffers. */
void awsr_proc_result_free(struct awsr_proc_result *res);

/* The timeout in ms after the test hook: $AWSR_PROCESS_TIMEOUT_MS when set, else dflt. */
long awsr_process_timeout_ms(long dflt);

#endif
