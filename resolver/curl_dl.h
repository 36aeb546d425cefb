/* curl_dl.h - libcurl, loaded with dlopen on first use and initialised once. Linking it
 * would make the dynamic loader map and relocate some thirty libraries (TLS, Kerberos,
 * LDAP, ssh...) at every start, cache hits included, which never talk to the network.
 * Types and constants still come from the real <curl/curl.h>. */
#ifndef AWSR_CURL_DL_H
#define AWSR_CURL_DL_H

#include <curl/curl.h>

#include "error.h"

struct awsr_curl {
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
    __typeof__(curl_getdate) *getdate;
    __typeof__(curl_url) *url;
    __typeof__(curl_url_set) *url_set;
    __typeof__(curl_url_get) *url_get;
    __typeof__(curl_url_cleanup) *url_cleanup;
    __typeof__(curl_free) *free;
};

/* Loads libcurl and runs curl_global_init once (thread-safe). The function table, or NULL
 * with AWSR_E_OTHER saying what failed. */
const struct awsr_curl *awsr_curl(struct awsr_error *err);

#endif
