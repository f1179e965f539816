/* libFuzzer target for the upload parser (web/multipart.h), which reads untrusted bodies, with its promises
 * checked, not only its memory use. Built by `make fuzz-multipart`, run by `make fuzz`; seeds in
 * test/fuzz/multipart/.
 *
 * Input: the Content-Type header up to the first newline, then byte k (low 3 bits: how many piece sizes
 * follow), k bytes of piece sizes, then the body. The body is parsed twice: whole, and in pieces of 1 + those
 * sizes in turn, as the network may cut it. Promises:
 *   - both parses say the same thing: the same answer (0 or the same code), the same parts with the same names,
 *     file names, types and bytes, up to where the whole parse stopped;
 *   - callbacks come in order: part_begin, part_data*, part_end; never data outside a part;
 *   - a body the parser accepts (multipart_finish 0) ended every part it began;
 *   - multipart_safe_filename gives 1 to 255 bytes without '/', '\\' or control characters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "web/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *promise)
{
	fprintf(stderr, "fuzz_multipart: broken promise: %s\n", promise);
	abort();
}

/* What one parse saw, written as one text so that two parses compare with memcmp. */
struct seen {
	struct buf log;
	int in_part;
	unsigned begun, ended;
};

static void log_field(struct buf *b, const char *tag, const char *s)
{
	buf_addf(b, "%s:%zu:", tag, s ? strlen(s) : (size_t)-1);
	if (s)
		buf_adds(b, s);
}

static int begin(void *ctx, const char *name, const char *filename, const char *ctype, struct fs_error *e)
{
	struct seen *s = ctx;
	(void)e;
	if (s->in_part)
		broken("a part begins inside another");
	if (!name)
		broken("a part without a name string");
	s->in_part = 1;
	s->begun++;
	buf_adds(&s->log, "[");
	log_field(&s->log, "n", name);
	log_field(&s->log, "f", filename);
	log_field(&s->log, "t", ctype);
	if (filename) {
		char *safe = multipart_safe_filename(filename);
		size_t n = strlen(safe);
		if (n == 0 || n > 255)
			broken("a safe file name of 1 to 255 bytes");
		for (size_t i = 0; i < n; i++)
			if (safe[i] == '/' || safe[i] == '\\' || (unsigned char)safe[i] < 0x20 || safe[i] == 0x7f)
				broken("a safe file name without separators or control characters");
		free(safe);
	}
	return 0;
}

static int part_data(void *ctx, const char *d, size_t len, struct fs_error *e)
{
	struct seen *s = ctx;
	(void)e;
	if (!s->in_part)
		broken("data outside a part");
	buf_add(&s->log, d, len);
	return 0;
}

static int end(void *ctx, struct fs_error *e)
{
	struct seen *s = ctx;
	(void)e;
	if (!s->in_part)
		broken("a part ends that did not begin");
	s->in_part = 0;
	s->ended++;
	buf_adds(&s->log, "]");
	return 0;
}

static const struct multipart_handler handler = { begin, part_data, end };

/* Parses body in pieces (sizes NULL: whole); the answer of the first failing call, or of finish. */
static int parse(const char *boundary, const uint8_t *body, size_t len, const uint8_t *sizes, size_t nsizes,
		 struct seen *s)
{
	struct fs_error e;
	struct multipart *mp = multipart_new(boundary, &handler, s);
	int rc = 0;
	for (size_t at = 0, k = 0; rc == 0 && at < len; k++) {
		size_t n = sizes ? 1 + (size_t)sizes[k % nsizes] : len;
		if (n > len - at)
			n = len - at;
		rc = multipart_feed(mp, (const char *)body + at, n, &e);
		at += n;
	}
	if (rc == 0)
		rc = multipart_finish(mp, &e);
	multipart_free(mp);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	if (!nl)
		return 0;
	char *ctype = malloc((size_t)(nl - data) + 1);
	memcpy(ctype, data, (size_t)(nl - data));
	ctype[nl - data] = '\0';
	size_t rest = size - (size_t)(nl - data) - 1;
	const uint8_t *p = nl + 1;
	char boundary[MULTIPART_MAX_BOUNDARY + 1];
	struct fs_error e;
	if (rest == 0 || multipart_boundary(ctype, boundary, sizeof(boundary), &e) < 0) {
		free(ctype);
		return 0;
	}
	free(ctype);
	size_t k = p[0] & 7;
	if (rest < 1 + k)
		return 0;
	const uint8_t *sizes = p + 1, *body = p + 1 + k;
	size_t len = rest - 1 - k;

	struct seen whole = { .in_part = 0 }, pieces = { .in_part = 0 };
	buf_init(&whole.log, BUF_NO_LIMIT);
	buf_init(&pieces.log, BUF_NO_LIMIT);
	int rw = parse(boundary, body, len, NULL, 0, &whole);
	int rp = k ? parse(boundary, body, len, sizes, k, &pieces) : rw;
	if (k) {
		if (rw != rp)
			broken("the same answer whole and in pieces");
		if (rw == 0 && (whole.log.len != pieces.log.len || memcmp(whole.log.ptr, pieces.log.ptr, whole.log.len)))
			broken("the same parts whole and in pieces");
	}
	if (rw == 0 && (whole.in_part || whole.begun != whole.ended))
		broken("an accepted body ends every part it began");
	buf_release(&whole.log);
	buf_release(&pieces.log);
	return 0;
}
