/* Streaming multipart/form-data: a small state machine over a look-behind buffer. */
#include "web/multipart.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/banned.h"

enum mp_state {
	MP_PREAMBLE, /* before the first boundary */
	MP_AFTER_BOUNDARY, /* a boundary was read: "\r\n" (a part follows) or "--" (the end) comes next */
	MP_HEADERS,
	MP_BODY,
	MP_DONE,
};

struct multipart {
	const struct multipart_handler *h;
	void *ctx;
	enum mp_state state;
	char delim[MULTIPART_MAX_BOUNDARY + 5]; /* "\r\n--" + boundary */
	size_t delim_len;
	struct buf pending; /* bytes received but not yet consumed */
	int in_part;
};

int multipart_boundary(const char *content_type, char *out, size_t size, struct fs_error *e)
{
	const char *p = content_type;
	if (!p || strncasecmp(p, "multipart/form-data", 19) != 0)
		return fs_fail(e, FS_EINVAL, "send the file as multipart/form-data with a field named \"file\"");
	for (p += 19; (p = strchr(p, ';')) != NULL;) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "boundary=", 9) != 0)
			continue;
		p += 9;
		size_t n;
		if (*p == '"') {
			const char *end = strchr(++p, '"');
			n = end ? (size_t)(end - p) : 0;
		} else {
			n = strcspn(p, "; \t");
		}
		if (n == 0 || n > MULTIPART_MAX_BOUNDARY || n >= size)
			break;
		memcpy(out, p, n);
		out[n] = '\0';
		return 0;
	}
	return fs_fail(e, FS_EINVAL, "multipart/form-data without a valid boundary");
}

struct multipart *multipart_new(const char *boundary, const struct multipart_handler *h, void *ctx)
{
	struct multipart *mp = xcalloc(1, sizeof(*mp));
	mp->h = h;
	mp->ctx = ctx;
	mp->delim_len = (size_t)snprintf(mp->delim, sizeof(mp->delim), "\r\n--%s", boundary);
	buf_init(&mp->pending, BUF_NO_LIMIT);
	/* The first boundary may open the body without a CRLF before it: pretend there was one. */
	buf_add(&mp->pending, "\r\n", 2);
	return mp;
}

void multipart_free(struct multipart *mp)
{
	if (!mp)
		return;
	buf_release(&mp->pending);
	free(mp);
}

/* Finds needle in hay (both with lengths); NULL when absent. */
static const char *find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen == 0 || hlen < nlen)
		return NULL;
	for (const char *p = hay; (p = memchr(p, needle[0], hlen - (size_t)(p - hay) - nlen + 1)) != NULL; p++)
		if (!memcmp(p, needle, nlen))
			return p;
	return NULL;
}

/* The value of param (e.g. "name") in a Content-Disposition header, unquoted and unescaped; malloc'd or NULL.
 * filename*=UTF-8''percent-encoded is understood too. */
static char *disposition_param(const char *header, const char *param)
{
	size_t plen = strlen(param);
	for (const char *p = header; (p = strchr(p, ';')) != NULL;) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		int extended = !strncasecmp(p, param, plen) && p[plen] == '*' && p[plen + 1] == '=';
		if (strncasecmp(p, param, plen) != 0 || (!extended && p[plen] != '='))
			continue;
		p += plen + (extended ? 2 : 1);
		struct buf v;
		buf_init(&v, 4096);
		if (extended) {
			const char *q = strstr(p, "''");
			p = q ? q + 2 : p;
			for (; *p && *p != ';' && !isspace((unsigned char)*p); p++) {
				if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
					char hex[3] = { p[1], p[2], 0 };
					char c = (char)strtol(hex, NULL, 16);
					buf_add(&v, &c, 1);
					p += 2;
				} else {
					buf_add(&v, p, 1);
				}
			}
		} else if (*p == '"') {
			/* Browsers do not escape the backslashes of Windows paths ("C:\dir\x.pdf"): only \" and \\ are
			 * taken as escapes, any other backslash is itself. */
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				buf_add(&v, p, 1);
			}
		} else {
			buf_add(&v, p, strcspn(p, "; \t"));
		}
		return buf_take(&v, NULL);
	}
	return NULL;
}

/* What follows a delimiter makes it a boundary only when it is "--" or optional blanks and CRLF (RFC 2046).
 * 1: a boundary; 0: not one (the delimiter's text is data); -1: too few bytes yet to tell. */
static int boundary_follows(const char *p, size_t n)
{
	size_t i = 0;
	if (n >= 2 && p[0] == '-' && p[1] == '-')
		return 1;
	if (n >= 1 && p[0] == '-')
		return n >= 2 ? 0 : -1;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i == n || (p[i] == '\r' && i + 1 == n))
		return i < 256 ? -1 : 0;
	return p[i] == '\r' && p[i + 1] == '\n' ? 1 : 0;
}

/* Parses one part's header block (CRLF-separated lines, no final blank line) and starts the part. */
static int begin_part(struct multipart *mp, char *headers, struct fs_error *e)
{
	char *name = NULL, *filename = NULL, *ctype = NULL;
	int rc = 0;
	for (char *line = headers; line && *line;) {
		char *next = strstr(line, "\r\n");
		if (next) {
			*next = '\0';
			next += 2;
		}
		if (!strncasecmp(line, "Content-Disposition:", 20)) {
			if (!strstr(line, "form-data")) {
				rc = fs_fail(e, FS_EINVAL, "multipart part is not form-data");
				goto out;
			}
			free(name);
			free(filename);
			name = disposition_param(line + 20, "name");
			filename = disposition_param(line + 20, "filename");
		} else if (!strncasecmp(line, "Content-Type:", 13)) {
			const char *v = line + 13;
			while (*v == ' ' || *v == '\t')
				v++;
			free(ctype);
			ctype = xstrdup(v);
		}
		line = next;
	}
	if (!name) {
		rc = fs_fail(e, FS_EINVAL, "multipart part without a Content-Disposition name");
		goto out;
	}
	mp->in_part = 1;
	rc = mp->h->part_begin(mp->ctx, name, filename, ctype, e);
out:
	free(name);
	free(filename);
	free(ctype);
	return rc;
}

/* Consumes what it can of pending; leaves the rest for the next feed. */
static int run(struct multipart *mp, struct fs_error *e)
{
	size_t used = 0;
	int rc = 0;
	for (;;) {
		const char *p = mp->pending.ptr + used;
		size_t left = mp->pending.len - used;
		if (mp->state == MP_PREAMBLE || mp->state == MP_BODY) {
			const char *d = find(p, left, mp->delim, mp->delim_len);
			size_t data = d ? (size_t)(d - p) : (left > mp->delim_len ? left - mp->delim_len : 0);
			int verdict = d ? boundary_follows(d + mp->delim_len, left - data - mp->delim_len) : 0;
			if (verdict == 0 && d) /* the delimiter is followed by other text: it is data */
				data++;
			if (mp->state == MP_BODY && data > 0 && (rc = mp->h->part_data(mp->ctx, p, data, e)) < 0)
				goto out;
			used += data;
			if (verdict == 0 && d)
				continue;
			if (!d || verdict < 0) /* no delimiter yet, or too few bytes after it to tell */
				goto out;
			used += mp->delim_len;
			if (mp->state == MP_BODY) {
				mp->in_part = 0;
				if ((rc = mp->h->part_end(mp->ctx, e)) < 0)
					goto out;
			}
			mp->state = MP_AFTER_BOUNDARY;
		} else if (mp->state == MP_AFTER_BOUNDARY) {
			if (left < 2)
				goto out;
			if (!memcmp(p, "--", 2)) {
				mp->state = MP_DONE;
				used = mp->pending.len; /* the epilogue is ignored */
				goto out;
			}
			/* Transport padding (spaces, tabs) may stand before the CRLF. */
			size_t pad = 0;
			while (pad < left && (p[pad] == ' ' || p[pad] == '\t'))
				pad++;
			if (left - pad < 2)
				goto out;
			if (memcmp(p + pad, "\r\n", 2) != 0) {
				rc = fs_fail(e, FS_EINVAL, "malformed multipart body (bad boundary line)");
				goto out;
			}
			used += pad + 2;
			mp->state = MP_HEADERS;
		} else if (mp->state == MP_HEADERS) {
			const char *end = left >= 2 && !memcmp(p, "\r\n", 2) ? p : find(p, left, "\r\n\r\n", 4);
			if (!end) {
				if (left > MULTIPART_MAX_HEADER_BYTES)
					rc = fs_fail(e, FS_EINVAL, "multipart part headers larger than %d bytes",
						     MULTIPART_MAX_HEADER_BYTES);
				goto out;
			}
			size_t hlen = (size_t)(end - p);
			char *headers = xstrndup(p, hlen);
			used += hlen + (end == p ? 2 : 4);
			rc = begin_part(mp, headers, e);
			free(headers);
			if (rc < 0)
				goto out;
			mp->state = MP_BODY;
		} else { /* MP_DONE */
			used = mp->pending.len;
			goto out;
		}
	}
out:
	memmove(mp->pending.ptr, mp->pending.ptr + used, mp->pending.len - used);
	mp->pending.len -= used;
	mp->pending.ptr[mp->pending.len] = '\0';
	return rc;
}

int multipart_feed(struct multipart *mp, const char *data, size_t len, struct fs_error *e)
{
	if (mp->state == MP_DONE)
		return 0;
	buf_add(&mp->pending, data, len);
	return run(mp, e);
}

int multipart_finish(struct multipart *mp, struct fs_error *e)
{
	if (mp->state != MP_DONE)
		return fs_fail(e, FS_EINVAL, "multipart body ended before its closing boundary");
	return 0;
}

char *multipart_safe_filename(const char *name)
{
	const char *base = name ? name : "";
	for (const char *p = base; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	struct buf out;
	buf_init(&out, 255);
	for (const char *p = base; *p; p++)
		if ((unsigned char)*p >= 0x20 && *p != 0x7f && buf_add(&out, p, 1) < 0)
			break;
	/* Do not end inside a UTF-8 sequence the cap cut: drop an incomplete last character. */
	size_t start = out.len;
	while (start > 0 && ((unsigned char)out.ptr[start - 1] & 0xc0) == 0x80)
		start--;
	if (start > 0 && (unsigned char)out.ptr[start - 1] >= 0xc0) {
		unsigned char lead = (unsigned char)out.ptr[start - 1];
		size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
		if (out.len - (start - 1) < need)
			out.len = start - 1;
	}
	if (out.ptr)
		out.ptr[out.len] = '\0';
	if (!out.len || !strcmp(buf_str(&out), ".") || !strcmp(buf_str(&out), "..")) {
		buf_release(&out);
		return xstrdup("upload");
	}
	return buf_take(&out, NULL);
}
