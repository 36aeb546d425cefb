/* crypto.h - SHA-256 and HMAC-SHA-256 from OpenSSL's libcrypto, loaded with dlopen on
 * first use: a run that never signs a request (a cache hit) neither loads nor initialises
 * OpenSSL, which costs more than the rest of such a run. */
#ifndef AWSR_CRYPTO_H
#define AWSR_CRYPTO_H

#include <stddef.h>

#include "error.h"

#define AWSR_SHA256_LEN 32

/* Loads libcrypto once (thread-safe). 0, or -1 with AWSR_E_OTHER saying what is missing. */
int awsr_crypto_load(struct awsr_error *err);

/* 0 and out filled, or -1 when libcrypto cannot be loaded or the digest fails. */
int awsr_sha256(const void *data, size_t len, unsigned char out[AWSR_SHA256_LEN]);
int awsr_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                     unsigned char out[AWSR_SHA256_LEN]);

/* 1 when a[0..n) equals b[0..n), in a time that does not depend on where they differ
 * (token checks). Needs no library. */
int awsr_const_time_equal(const void *a, const void *b, size_t n);

/* Lower-case hex of in[0..n) into out[2n+1], NUL-terminated. */
void awsr_hex_encode(const unsigned char *in, size_t n, char *out);

/* The value of one hex digit (either case), -1 for any other character. */
int awsr_hex_value(char c);

#endif
