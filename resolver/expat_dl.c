/* expat_dl.c - resolves the expat functions sts_xml.c uses, once, with dlopen. */
#include "expat_dl.h"

#include "dl_resolve.h"
#include "dynamic_only.h"

#include <pthread.h>
#include <stdio.h>

#ifndef AWSR_LIBEXPAT_SONAME
#define AWSR_LIBEXPAT_SONAME "libexpat.so.1"
#endif

static struct awsr_expat api;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256]; /* "" once loaded */

#define RESOLVE(member, name) AWSR_DL_RESOLVE(h, api.member, name, missing)

static void load(void)
{
    void *h = awsr_dlopen(AWSR_LIBEXPAT_SONAME);
    if (!h) {
        snprintf(load_error, sizeof load_error, "cannot load %s: %s", AWSR_LIBEXPAT_SONAME,
                 awsr_dlerror());
        return;
    }
    const char *missing = NULL;
    RESOLVE(ParserCreate_MM, "XML_ParserCreate_MM");
    RESOLVE(ParserFree, "XML_ParserFree");
    RESOLVE(SetUserData, "XML_SetUserData");
    RESOLVE(SetElementHandler, "XML_SetElementHandler");
    RESOLVE(SetCharacterDataHandler, "XML_SetCharacterDataHandler");
    RESOLVE(SetStartDoctypeDeclHandler, "XML_SetStartDoctypeDeclHandler");
    RESOLVE(SetParamEntityParsing, "XML_SetParamEntityParsing");
    RESOLVE(Parse, "XML_Parse");
    RESOLVE(StopParser, "XML_StopParser");
    RESOLVE(GetErrorCode, "XML_GetErrorCode");
    RESOLVE(ErrorString, "XML_ErrorString");
    RESOLVE(GetCurrentLineNumber, "XML_GetCurrentLineNumber");
    if (missing)
        snprintf(load_error, sizeof load_error, "%s has no %s", AWSR_LIBEXPAT_SONAME, missing);
}

const struct awsr_expat *awsr_expat(const char **why)
{
    pthread_once(&load_once, load);
    if (load_error[0]) {
        if (why)
            *why = load_error;
        return NULL;
    }
    return &api;
}
