/* crypto.c - the few libcrypto calls SigV4 needs, resolved with dlopen the first time a
 * request is signed. The real OpenSSL headers give the types (__typeof__), so a changed
 * prototype is a compile error, not a crash. */
#include "crypto.h"

#include "dynamic_only.h"
#include "secmem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>

#ifndef AWSR_LIBCRYPTO_SONAME
#define AWSR_LIBCRYPTO_SONAME "libcrypto.so.3"
#endif

static struct {
    __typeof__(EVP_Digest) *digest;
    __typeof__(EVP_sha256) *sha256;
    __typeof__(HMAC) *hmac;
} fn;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[512]; /* "" once loaded */

static void *ossl_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    return awsr_secmem_malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file, (void)line;
    return awsr_secmem_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
    (void)file, (void)line;
    awsr_secmem_free(p);
}

static void load(void)
{
    void *h = awsr_dlopen(AWSR_LIBCRYPTO_SONAME);
    const char *why = NULL;
    if (!h) {
        why = awsr_dlerror();
    } else {
        /* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
        *(void **)&fn.digest = awsr_dlsym(h, "EVP_Digest");
        *(void **)&fn.sha256 = awsr_dlsym(h, "EVP_sha256");
        *(void **)&fn.hmac = awsr_dlsym(h, "HMAC");
        if (!fn.digest || !fn.sha256 || !fn.hmac)
            why = "a needed symbol (EVP_Digest, EVP_sha256, HMAC) is missing";
        /* Keys and TLS records pass through OpenSSL's heap: wipe what it frees. This only
         * works before its first allocation, hence here, right after loading. */
        __typeof__(CRYPTO_set_mem_functions) *set_mem;
        *(void **)&set_mem = awsr_dlsym(h, "CRYPTO_set_mem_functions");
        if (set_mem)
            set_mem(ossl_malloc, ossl_realloc, ossl_free);
    }
    if (why)
        snprintf(load_error, sizeof load_error,
                 "cannot load OpenSSL's libcrypto (%s), needed to sign STS requests: %s",
                 AWSR_LIBCRYPTO_SONAME, why);
}

int awsr_crypto_load(struct awsr_error *err)
{
    pthread_once(&load_once, load);
    if (load_error[0])
        return err ? awsr_error_set(err, AWSR_E_OTHER, "%s", load_error) : -1;
    return 0;
}

int awsr_sha256(const void *data, size_t len, unsigned char out[AWSR_SHA256_LEN])
{
    unsigned int n = 0;
    if (awsr_crypto_load(NULL) != 0 ||
        !fn.digest(data ? data : "", len, out, &n, fn.sha256(), NULL) || n != AWSR_SHA256_LEN)
        return -1;
    return 0;
}

int awsr_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                     unsigned char out[AWSR_SHA256_LEN])
{
    unsigned int n = 0;
    if (awsr_crypto_load(NULL) != 0 || keylen > (size_t)__INT_MAX__ ||
        !fn.hmac(fn.sha256(), key, (int)keylen, msg ? msg : (const void *)"", msglen, out, &n) ||
        n != AWSR_SHA256_LEN)
        return -1;
    return 0;
}

int awsr_const_time_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}

void awsr_hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int awsr_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
