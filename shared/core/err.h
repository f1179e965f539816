/* Error codes (negative ints returned by every fallible function), the caller-provided error struct that
 * carries a human message, and the one mapping from code to HTTP status and API error name. */
#ifndef FAQSURE_ERR_H
#define FAQSURE_ERR_H

enum fs_code {
	FS_OK = 0,
	FS_EINVAL = -1,       /* 400 invalid_request */
	FS_EAUTH = -2,        /* 401 invalid_api_key */
	FS_EBALANCE = -3,     /* 402 insufficient_balance */
	FS_EFORBIDDEN = -4,   /* 403 forbidden */
	FS_ENOTFOUND = -5,    /* 404 not_found */
	FS_EMETHOD = -6,      /* 405 method_not_allowed */
	FS_ETOOLARGE = -7,    /* 413 file_too_large */
	FS_EUNSUPPORTED = -8, /* 415 unsupported_file_type */
	FS_ERATE = -9,        /* 429 rate_limit_exceeded */
	FS_EINTERNAL = -10,   /* 500 internal_error */
	FS_EUNAVAIL = -11,    /* 503 upstream_unavailable */
	FS_ECONFLICT = -12,   /* 409 conflict */
	FS_ERETRY = -13,      /* 503: a deadlock or lock timeout; the transaction may be tried again */
};

struct fs_error {
	int code;
	char msg[512];
};

/* Records code and message in e (which may be NULL) and returns code, so callers can `return fs_fail(...)`. */
int fs_fail(struct fs_error *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void fs_error_clear(struct fs_error *e);

int fs_http_status(int code);
const char *fs_error_name(int code);
const char *fs_http_reason(int status);

#endif
