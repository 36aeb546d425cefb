/* metadata.h - credentials from the container endpoint and EC2's IMDS. */
#ifndef AWSR_METADATA_H
#define AWSR_METADATA_H

#include <stdbool.h>
#include <stddef.h>

#include "creds.h"
#include "error.h"
#include "profile.h"

/* Parses a container/IMDS credentials document (AccessKeyId, SecretAccessKey, Token,
 * Expiration). Pure. */
int awsr_metadata_parse_creds(const char *json, size_t len, struct awsr_creds *out,
                              struct awsr_error *err);

/* The CONTAINER and IMDS sources of awsr_source_fetch (three tries, 1 s apart, for the
 * container endpoint; one for IMDS, whose failures all read as "no credentials"). */
int awsr_container_fetch(const struct awsr_source *src, struct awsr_creds *out,
                         struct awsr_error *err);
int awsr_imds_fetch(const struct awsr_source *src, struct awsr_creds *out,
                    struct awsr_error *err);

/* True when an http:// container credentials URL may go to `host` (botocore's rule:
 * loopback IP literals, 169.254.170.2, 169.254.170.23, fd00:ec2::23, localhost). */
bool awsr_container_host_allowed(const char *host);
/* Checks a full container credentials URI: https to any host, http to allowed hosts.
 * 0, or -1 with status 253 and botocore's "Unsupported host 'H'. ..." text. */
int awsr_container_check_url(const char *url, struct awsr_error *err);

#endif
