/* Error reporting: fs_fail and the code → HTTP status / API error name mapping. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/banned.h"

int fs_fail(struct fs_error *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
		e->code = code;
	}
	return code;
}

void fs_error_clear(struct fs_error *e)
{
	e->code = 0;
	e->msg[0] = '\0';
}

static const struct {
	int code;
	int status;
	const char *name;
} codes[] = {
	{ FS_EINVAL, 400, "invalid_request" },
	{ FS_EAUTH, 401, "invalid_api_key" },
	{ FS_EBALANCE, 402, "insufficient_balance" },
	{ FS_EFORBIDDEN, 403, "forbidden" },
	{ FS_ENOTFOUND, 404, "not_found" },
	{ FS_EMETHOD, 405, "method_not_allowed" },
	{ FS_ECONFLICT, 409, "conflict" },
	{ FS_ETOOLARGE, 413, "file_too_large" },
	{ FS_EUNSUPPORTED, 415, "unsupported_file_type" },
	{ FS_ERATE, 429, "rate_limit_exceeded" },
	{ FS_EINTERNAL, 500, "internal_error" },
	{ FS_EUNAVAIL, 503, "upstream_unavailable" },
	{ FS_ERETRY, 503, "upstream_unavailable" },
};

int fs_http_status(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].status;
	return 500;
}

const char *fs_error_name(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].name;
	return "internal_error";
}

const char *fs_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return status < 500 ? "Error" : "Internal Server Error";
	}
}
