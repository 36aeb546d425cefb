/* handover.c - the hook a statically linked launcher arms (see handover.h). */
#include "handover.h"

#include <stddef.h>

static awsr_handover_fn handler;

void awsr_handover_arm(awsr_handover_fn fn)
{
    handler = fn;
}

void awsr_handover(const char *why)
{
    if (handler)
        handler(why);
}
