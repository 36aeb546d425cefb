/* sts_params.h - botocore's client-side check of STS parameters (ParamValidator): the
 * minimum lengths and values of the STS model, checked before any prompt or call, and
 * reported in the AWS CLI's words, on one line as every message here ("; " where the CLI
 * starts a new line):
 *
 *   Parameter validation failed: Invalid value for parameter DurationSeconds, value: 600,
 *   valid min value: 900
 *
 * Lengths count characters (code points), as Python's len() does. Only the value's length
 * is ever printed for a string, so a secret cannot reach the message. */
#ifndef AWSR_STS_PARAMS_H
#define AWSR_STS_PARAMS_H

#include <stddef.h>

#include "error.h"

/* The model's minimums (botocore checks no maximum and no pattern). */
#define AWSR_MIN_ROLE_ARN           20
#define AWSR_MIN_ROLE_SESSION_NAME  2
#define AWSR_MIN_EXTERNAL_ID        2
#define AWSR_MIN_SERIAL_NUMBER      9
#define AWSR_MIN_TOKEN_CODE         6
#define AWSR_MIN_WEB_IDENTITY_TOKEN 4
#define AWSR_MIN_DURATION_SECONDS   900

struct awsr_param_report {
    char text[512];
    size_t len;
    int count;
};

/* A NULL value is "not sent" and passes. */
void awsr_param_min_len(struct awsr_param_report *r, const char *name, const char *value,
                        size_t min);
void awsr_param_min_value(struct awsr_param_report *r, const char *name, long long value,
                          long long min);

/* 0 when nothing failed; else sets err (status) and returns -1. */
int awsr_param_report_error(const struct awsr_param_report *r, int status,
                            struct awsr_error *err);

#endif
