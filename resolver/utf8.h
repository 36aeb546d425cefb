/* utf8.h - one strict UTF-8 decoder for the INI parser (Python's codec decides what a
 * config file may hold) and the message sanitizer (what may reach a terminal). */
#ifndef AWSR_UTF8_H
#define AWSR_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the sequence at s[0..n) as Python's codec does: no overlongs, no surrogates,
 * nothing above U+10FFFF. Its length (1-4) and *cp, or 0 when invalid. It stops at the
 * first byte that is not a continuation byte, so on a NUL-terminated string any n >= 4
 * is safe. */
size_t awsr_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif
