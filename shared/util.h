/* Small helpers every module uses: OS randomness, UUIDs, hex, SHA-256, UTC time parsing and formatting,
 * strict integer parsing. */
#ifndef FAQSURE_UTIL_H
#define FAQSURE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Fills out with n bytes from getrandom(2); aborts if the OS cannot provide them. */
void util_random(void *out, size_t n);
/* A random (version 4) UUID, lower-case, into out[37]. */
void util_uuid(char out[37]);
int util_is_uuid(const char *s);
/* Lower-case hex of n bytes into out[2n+1]. */
void util_hex(const unsigned char *in, size_t n, char *out);
void util_sha256(const void *data, size_t len, unsigned char out[32]);

/* Parses "YYYY-MM-DD" (midnight UTC) or an ISO 8601 date-time "YYYY-MM-DDThh:mm[:ss[.frac]]" with "Z",
 * "±hh:mm", "±hhmm" or no zone (taken as UTC); a space may stand for the T. 0 or -1. */
int util_parse_time(const char *s, time_t *out);
/* "YYYY-MM-DDThh:mm:ssZ" into out[21]. */
void util_format_time(time_t t, char out[21]);

/* Whole-string decimal parse with range check; 0 or -1. */
int util_parse_ll(const char *s, long long min, long long max, long long *out);

/* Milliseconds from a monotonic clock. */
double util_now_ms(void);

#endif
