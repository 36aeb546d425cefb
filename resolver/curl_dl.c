/* curl_dl.c - resolves the libcurl functions the resolver uses, once, with dlopen. */
#include "curl_dl.h"

#include "crypto.h"
#include "dl_resolve.h"
#include "dynamic_only.h"
#include "secmem.h"

#include <pthread.h>
#include <stdio.h>

#ifndef AWSR_LIBCURL_SONAME
#define AWSR_LIBCURL_SONAME "libcurl.so.4"
#endif

static struct awsr_curl api;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[512]; /* "" once loaded and initialised */

#define RESOLVE(member, name) AWSR_DL_RESOLVE(h, api.member, name, missing)

static void load(void)
{
    /* libcurl initialises OpenSSL for TLS: load libcrypto first so that its wiping
     * allocator is in place before OpenSSL allocates anything. */
    awsr_crypto_load(NULL);
    void *h = awsr_dlopen(AWSR_LIBCURL_SONAME);
    if (!h) {
        snprintf(load_error, sizeof load_error, "cannot load libcurl (%s): %s",
                 AWSR_LIBCURL_SONAME, awsr_dlerror());
        return;
    }
    const char *missing = NULL;
    RESOLVE(easy_init, "curl_easy_init");
    RESOLVE(easy_setopt, "curl_easy_setopt");
    RESOLVE(easy_perform, "curl_easy_perform");
    RESOLVE(easy_getinfo, "curl_easy_getinfo");
    RESOLVE(easy_cleanup, "curl_easy_cleanup");
    RESOLVE(easy_strerror, "curl_easy_strerror");
    RESOLVE(slist_append, "curl_slist_append");
    RESOLVE(slist_free_all, "curl_slist_free_all");
    RESOLVE(getdate, "curl_getdate");
    RESOLVE(url, "curl_url");
    RESOLVE(url_set, "curl_url_set");
    RESOLVE(url_get, "curl_url_get");
    RESOLVE(url_cleanup, "curl_url_cleanup");
    RESOLVE(free, "curl_free");
    __typeof__(curl_global_init_mem) *global_init = NULL;
    AWSR_DL_RESOLVE(h, global_init, "curl_global_init_mem", missing);
    if (missing) {
        snprintf(load_error, sizeof load_error, "cannot use libcurl (%s): %s is missing",
                 AWSR_LIBCURL_SONAME, missing);
        return;
    }
    /* Response bodies (secrets) pass through libcurl's buffers: every block it frees is
     * wiped. */
    if (global_init(CURL_GLOBAL_DEFAULT, awsr_secmem_malloc, awsr_secmem_free,
                    awsr_secmem_realloc, awsr_secmem_strdup, awsr_secmem_calloc) != CURLE_OK)
        snprintf(load_error, sizeof load_error, "Could not initialise libcurl");
}

const struct awsr_curl *awsr_curl(struct awsr_error *err)
{
    pthread_once(&load_once, load);
    if (load_error[0]) {
        if (err)
            awsr_error_set(err, AWSR_E_OTHER, "%s", load_error);
        return NULL;
    }
    return &api;
}
