/* child.h - the command: its environment, exec, signal forwarding, waiting, and passing
 * its exit status (or death by signal) on as awsrole-run's own. */
#ifndef AWSR_CHILD_H
#define AWSR_CHILD_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "creds.h"
#include "error.h"

/* A growable NULL-terminated "NAME=value" array. */
struct awsr_envp {
    char **v;
    size_t n, cap;
};

/* Copies `base` (usually environ). */
int awsr_envp_init(struct awsr_envp *e, char *const *base);
void awsr_envp_free(struct awsr_envp *e);
/* Sets (replacing every existing entry of the name) or, with value NULL, removes. */
int awsr_envp_set(struct awsr_envp *e, const char *name, const char *value);
const char *awsr_envp_get(const struct awsr_envp *e, const char *name);

struct awsr_child_env {
    const struct awsr_creds *creds;  /* NULL: no credential variables (lazy, --server) */
    const char *region;              /* NULL: region variables left as inherited */
    const char *profile;             /* AWSROLE_PROFILE */
    const char *shim;                /* absolute path to prepend to LD_PRELOAD, or NULL */
    const char *segment;             /* value of AWSROLE_SEGMENT, or NULL */
};

/* Applies the design's child environment: drops inherited credential and profile
 * variables, sets the credential, region and awsrole variables, prepends the shim. */
int awsr_child_env_apply(struct awsr_envp *e, const struct awsr_child_env *ce);

/* Replaces this process with the command (exit status and signals native). Only returns
 * on failure: 126 (not executable) or 127 (not found) with the message printed. */
int awsr_child_exec(char *const argv[], char *const envp[]);

/* Starts the command. 0 and *pid, or 126/127 after printing why (the child never ran). */
int awsr_child_spawn(char *const argv[], char *const envp[], pid_t *pid);

/* What the supervisor does besides waiting: a timer and an fd to watch. */
struct awsr_supervisor {
    time_t (*next_deadline)(void *ctx);  /* absolute time of the next on_timer, 0: none */
    void (*on_timer)(void *ctx);
    int watch_fd;                        /* -1: none */
    void (*on_watch)(void *ctx);
    int watch_fd2;                       /* -1: none */
    void (*on_watch2)(void *ctx);
    void (*on_start)(void *ctx);         /* once, when the handlers are in place; or NULL */
    void *ctx;
};

/* Installs the forwarding handlers (SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH
 * always; SIGINT only when sent by a process, not by the terminal, which has already
 * delivered it to the child), waits for the child while serving the supervisor, and
 * returns its wait status. */
int awsr_child_supervise(pid_t pid, const struct awsr_supervisor *sup);

/* SIGPIPE becomes EPIPE for the launcher (not for what it starts): called first thing. */
void awsr_child_survive_closed_readers(void);

/* Ends awsrole-run the way the child ended: exit with its status, or die of its signal
 * (no core dump), or 128+N where that is not possible. Does not return. */
void awsr_child_propagate(int wstatus) __attribute__((noreturn));

#endif
