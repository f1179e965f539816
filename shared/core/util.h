/* Small helpers every module uses: OS randomness, UUIDs, hex, SHA-256, UTC time parsing and formatting,
 * strict integer parsing, UTF-8 checks and cuts. */
#ifndef FAQSURE_UTIL_H
#define FAQSURE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

/* Fills out with n bytes from getrandom(2); aborts if the OS cannot provide them. */
void util_random(void *out, size_t n);
/* A random (version 4) UUID, lower-case, into out[37]. */
void util_uuid(char out[37]);
/* n random characters of [0-9A-Za-z], each equally likely (log2(62) bits each), then a NUL: out[n + 1]. */
void util_base62(char *out, size_t n);
int util_is_uuid(const char *s);
/* Lower-case hex of n bytes into out[2n+1]. */
void util_hex(const unsigned char *in, size_t n, char *out);
void util_sha256(const void *data, size_t len, unsigned char out[32]);

/* Parses "YYYY-MM-DD" (midnight UTC) or an ISO 8601 date-time "YYYY-MM-DDThh:mm[:ss[.frac]]" with "Z",
 * "±hh:mm", "±hhmm" or no zone (taken as UTC); a space may stand for the T. 0 or -1. */
int util_parse_time(const char *s, time_t *out);
/* "YYYY-MM-DDThh:mm:ssZ" into out[21]. */
void util_format_time(time_t t, char out[21]);
/* Microseconds since the epoch as MariaDB's "YYYY-MM-DD hh:mm:ss.uuuuuu" (UTC) into out[32]. */
void util_format_time_us(long long us, char out[32]);

/* Whole-string decimal parse with range check; 0 or -1. */
int util_parse_ll(const char *s, long long min, long long max, long long *out);

/* Milliseconds from a monotonic clock. */
double util_now_ms(void);
/* One line on stderr, after the UTC time and "faqsure: ", for the logs of long-running commands (the worker). */
void util_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Length of the valid UTF-8 sequence at s (len >= 1 bytes there), 0 when it is not one; rejects what Jansson
 * rejects: overlong forms, surrogates, code points past U+10FFFF. */
size_t util_utf8_seq(const unsigned char *s, size_t len);
/* Where the len bytes of UTF-8 at s may be cut to at most max bytes without splitting a character: len when
 * max >= len, else max moved back to the start of a character. */
/* The number of characters (code points) in the len bytes of UTF-8 text at s. */
size_t util_utf8_chars(const char *s, size_t len);
size_t util_utf8_cut(const char *s, size_t len, size_t max);
/* A new JSON string of the len bytes at s, bytes that are not UTF-8 replaced by U+FFFD (one stray byte in a
 * file name or an extracted text must not fail a request); NULL only when Jansson runs out of memory. */
json_t *util_json_text(const char *s, size_t len);

#endif
