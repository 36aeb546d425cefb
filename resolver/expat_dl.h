/* expat_dl.h - expat, loaded with dlopen the first time an STS response is parsed. A cache
 * hit never parses XML, so it does not pay for mapping and relocating the library (seven
 * page faults at every start, about 90 microseconds on the machines the budgets are
 * measured on). Types and constants still come from the real <expat.h>. */
#ifndef AWSR_EXPAT_DL_H
#define AWSR_EXPAT_DL_H

#include <expat.h>

struct awsr_expat {
    __typeof__(XML_ParserCreate_MM) *ParserCreate_MM;
    __typeof__(XML_ParserFree) *ParserFree;
    __typeof__(XML_SetUserData) *SetUserData;
    __typeof__(XML_SetElementHandler) *SetElementHandler;
    __typeof__(XML_SetCharacterDataHandler) *SetCharacterDataHandler;
    __typeof__(XML_SetStartDoctypeDeclHandler) *SetStartDoctypeDeclHandler;
    __typeof__(XML_SetParamEntityParsing) *SetParamEntityParsing;
    __typeof__(XML_Parse) *Parse;
    __typeof__(XML_StopParser) *StopParser;
    __typeof__(XML_GetErrorCode) *GetErrorCode;
    __typeof__(XML_ErrorString) *ErrorString;
    __typeof__(XML_GetCurrentLineNumber) *GetCurrentLineNumber;
};

/* Loads libexpat once (thread-safe). The function table, or NULL with a reason in `why`
 * (a static string). */
const struct awsr_expat *awsr_expat(const char **why);

#endif
