/* libFuzzer target for the openai answerer's stream reader (server-sent events) and the upstream error message
 * sanitiser it quotes from, with their promises checked, not only their memory use. Built and run by `make fuzz`
 * (clang), seeds in test/fuzz/sse/, words in test/fuzz/sse.dict.
 *
 * Input: byte 0 = k (low 3 bits) | s (high 5 bits), byte 1 = n, k bytes of piece sizes, then the stream body.
 * The body is fed in pieces of 1 + those sizes in turn (whole when k is 0); the reader says stop at its s-th
 * delta (never when s is 0); the sanitiser writes into n + 1 bytes (HTTP_UPSTREAM_MSG_SIZE when larger). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/answer.h"
#include "core/buf.h"
#include "core/http.h"
#include "core/util.h"

#define STOP_CODE 5
#define SECRET "sk-fuzz-0123456789abcdef"
#define SECRET_RUN 8

struct reader {
	struct buf deltas; /* every delta, joined */
	unsigned calls, stop_at;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *promise)
{
	fprintf(stderr, "fuzz_sse: broken promise: %s\n", promise);
	abort();
}

static int valid_utf8(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = util_utf8_seq((const unsigned char *)s + i, len - i);
		if (!n)
			return 0;
		i += n;
	}
	return 1;
}

static int on_delta(void *arg, const char *text, size_t len)
{
	struct reader *r = arg;

	if (len == 0)
		broken("a delta is never empty");
	if (!valid_utf8(text, len))
		broken("a delta is whole characters of UTF-8");
	buf_add(&r->deltas, text, len);
	return ++r->calls == r->stop_at ? STOP_CODE : 0;
}

static void check_stream(const struct slice *pieces, size_t npieces, unsigned stop_at)
{
	struct answer_output out;
	struct reader r = { .stop_at = stop_at };
	struct fs_error e;
	int rc;

	answer_output_init(&out);
	buf_init(&r.deltas, BUF_NO_LIMIT);
	fs_error_clear(&e);
	rc = answer_openai_read_stream(pieces, npieces, on_delta, &r, &out, &e);
	if (stop_at && r.calls > stop_at)
		broken("no delta comes after the reader said stop");
	if ((stop_at && r.calls == stop_at) != (rc == STOP_CODE))
		broken("the reader's stop, and only it, ends the answer with the reader's code");
	if (rc == 0) {
		if (!valid_utf8(buf_str(&out.text), out.text.len))
			broken("the answer is UTF-8");
		if (out.cannot_answer && r.deltas.len)
			broken("an answer that is not one passes nothing to the reader");
		if (!out.cannot_answer && (r.deltas.len != out.text.len ||
					   memcmp(buf_str(&r.deltas), buf_str(&out.text), out.text.len) != 0))
			broken("the deltas add up to the answer");
		if (out.tokens_prompt < 0 || out.tokens_completion < 0)
			broken("token counts are not negative");
	} else {
		if (rc != FS_EUNAVAIL && rc != STOP_CODE)
			broken("a failed stream is FS_EUNAVAIL or the reader's code");
		if (!e.msg[0] || !valid_utf8(e.msg, strlen(e.msg)))
			broken("a failed stream says why, in UTF-8");
	}
	buf_release(&r.deltas);
	answer_output_release(&out);
}

static void check_message(const char *body, size_t len, size_t size)
{
	static const char secret[] = SECRET;
	char *out = xmalloc(size); /* exactly size bytes, so the sanitiser writing past them is caught */
	size_t n;

	http_upstream_message(body, len, SECRET, out, size);
	n = strlen(out);
	if (n >= size || n > HTTP_UPSTREAM_MSG_MAX + 3)
		broken("the message fits");
	if (!valid_utf8(out, n))
		broken("the message is UTF-8");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			broken("the message has no control characters");
	for (size_t k = 0; k + SECRET_RUN < sizeof(secret); k++)
		if (memmem(out, n, secret + k, SECRET_RUN))
			broken("no run of 8 bytes of the secret is shown");
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body;
	size_t k, len, npieces = 0, msg_size;
	unsigned stop_at;
	struct slice *pieces;

	if (size < 2)
		return 0;
	k = data[0] & 7;
	stop_at = data[0] >> 3;
	msg_size = (size_t)data[1] + 1 < HTTP_UPSTREAM_MSG_SIZE ? (size_t)data[1] + 1 : HTTP_UPSTREAM_MSG_SIZE;
	if (size < 2 + k)
		return 0;
	body = (const char *)data + 2 + k;
	len = size - 2 - k;
	pieces = xmalloc((len + 1) * sizeof(*pieces));
	for (size_t at = 0, i = 0; at < len; i++) {
		size_t n = k ? (size_t)data[2 + i % k] + 1 : len;
		if (n > len - at)
			n = len - at;
		pieces[npieces].ptr = body + at;
		pieces[npieces++].len = n;
		at += n;
	}
	check_stream(pieces, npieces, stop_at);
	free(pieces);
	/* The body as one event's data, as the reader hands an error event over. */
	check_message(body, len, msg_size);
	return 0;
}
