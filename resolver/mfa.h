/* mfa.h - where an MFA code comes from: --mfa-code, $AWSROLE_MFA_CODE, the profile's
 * mfa_process, then a prompt on /dev/tty ("Enter MFA code for SERIAL: ", echo off). */
#ifndef AWSR_MFA_H
#define AWSR_MFA_H

#include <stdbool.h>

#include "error.h"

#define AWSR_MFA_CODE_MAX 16

struct awsr_mfa_request {
    const char *serial;       /* mfa_serial, shown in the prompt (sanitized) */
    const char *cli_code;     /* --mfa-code, or NULL */
    const char *mfa_process;  /* profile's mfa_process, or NULL */
    int attempt;              /* 0 first; >0 after STS rejected the previous code */
};

/* Fills code (NUL-terminated). attempt > 0 only prompts (a non-interactive code that STS
 * rejected is not asked for again: returns -1 with err already untouched, status 0).
 * At the prompt a code that is not six digits is asked again, up to 3 times. Ctrl-C at
 * the prompt restores the terminal and exits 130. No terminal and no other source: 253
 * naming --mfa-code, AWSROLE_MFA_CODE and mfa_process. */
int awsr_mfa_get_code(const struct awsr_mfa_request *rq, char code[AWSR_MFA_CODE_MAX],
                      struct awsr_error *err);

/* True when a code for this request can come from somewhere (cli, env, process, tty). */
bool awsr_mfa_available(const struct awsr_mfa_request *rq);

/* --lazy, before the command starts: when this process's group holds its terminal now, a
 * later prompt may take the terminal back from the tree (an interactive shell in it holds
 * it then). A run started in the background never takes it: it stops at its prompt
 * (SIGTTOU/SIGTTIN) like any background job, until `fg`. */
void awsr_mfa_note_terminal_owner(void);

#endif
