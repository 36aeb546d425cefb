/* credfile.h - renders the synthesized credentials file (pure: no I/O).
 * [default] holds served[0]'s credentials; then one section per served profile. */
#ifndef AWSR_CREDFILE_H
#define AWSR_CREDFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "segment.h"

/* True when `name` can be written as an INI section header that botocore's configparser
 * reads back as the same name: not empty, no control characters (newline included), no
 * leading whitespace. ']' inside is fine (the header regex is greedy to the last ']'). */
bool awsr_credfile_name_ok(const char *name);

/* Returns the file's text (malloc'd; the caller wipes it with explicit_bzero over *len
 * bytes and frees it) or NULL on ENOMEM. Sections whose name is unsafe, duplicated or
 * "default" (beyond served[0]), or whose credentials hold control characters, are left
 * out with a comment line that does not repeat the name. */
char *awsr_credfile_render(const struct awsr_served *served, size_t nserved, size_t *len);

#endif
