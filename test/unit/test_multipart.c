/* multipart: the same body fed whole and in every split gives the same parts; malformed bodies are refused;
 * boundaries from Content-Type; client file names reduced to safe base names. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/buf.h"
#include "web/multipart.h"

struct captured {
	struct buf log; /* "<name|filename|type>data</>" for each part */
};

static int cap_begin(void *ctx, const char *name, const char *filename, const char *ctype, struct fs_error *e)
{
	(void)e;
	struct captured *c = ctx;
	buf_addf(&c->log, "<%s|%s|%s>", name, filename ? filename : "-", ctype ? ctype : "-");
	return 0;
}

static int cap_data(void *ctx, const char *data, size_t len, struct fs_error *e)
{
	(void)e;
	struct captured *c = ctx;
	buf_add(&c->log, data, len);
	return 0;
}

static int cap_end(void *ctx, struct fs_error *e)
{
	(void)e;
	struct captured *c = ctx;
	buf_adds(&c->log, "</>");
	return 0;
}

static const struct multipart_handler cap = { cap_begin, cap_data, cap_end };

static const char body[] = "preamble to ignore\r\n"
			   "--XyZ\r\n"
			   "Content-Disposition: form-data; name=\"metadata\"\r\n"
			   "\r\n"
			   "{\"a\":1}\r\n"
			   "--XyZ\r\n"
			   "Content-Disposition: form-data; name=\"file\"; filename=\"C:\\\\dir\\\\r\\\"x.pdf\"\r\n"
			   "Content-Type: application/pdf\r\n"
			   "\r\n"
			   "line1\r\n--XyZnot-a-boundary\r\n--Xy\r\n\r\nend"
			   "\r\n--XyZ--\r\nepilogue";

static const char expected[] = "<metadata|-|->{\"a\":1}</>"
			       "<file|C:\\dir\\r\"x.pdf|application/pdf>line1\r\n--XyZnot-a-boundary\r\n--Xy\r\n\r\nend</>";

static int parse_in_pieces(const char *text, size_t len, size_t piece, struct captured *c, struct fs_error *e)
{
	struct multipart *mp = multipart_new("XyZ", &cap, c);
	int rc = 0;
	for (size_t at = 0; at < len && rc == 0; at += piece)
		rc = multipart_feed(mp, text + at, len - at < piece ? len - at : piece, e);
	if (rc == 0)
		rc = multipart_finish(mp, e);
	multipart_free(mp);
	return rc;
}

static void same_parts_for_every_split(void)
{
	size_t len = strlen(body);
	for (size_t piece = 1; piece <= len; piece++) {
		struct captured c;
		struct fs_error e = { 0, "" };
		buf_init(&c.log, BUF_NO_LIMIT);
		int rc = parse_in_pieces(body, len, piece, &c, &e);
		if (rc != 0 || strcmp(buf_str(&c.log), expected) != 0) {
			printf("    piece size %zu: rc %d (%s)\n", piece, rc, e.msg);
			CHECK_STR(buf_str(&c.log), expected);
			buf_release(&c.log);
			return;
		}
		buf_release(&c.log);
	}
}

static void malformed_bodies_are_refused(void)
{
	static const char *const bad[] = {
		"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno closing boundary",
		"--XyZ\r\n\r\nheaders without a name\r\n--XyZ--",
		"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--XyZ\r\nheaders never end",
		"--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--XyZ--",
		"no boundary at all",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct captured c;
		struct fs_error e = { 0, "" };
		buf_init(&c.log, BUF_NO_LIMIT);
		int rc = parse_in_pieces(bad[i], strlen(bad[i]), 7, &c, &e);
		if (rc != FS_EINVAL)
			printf("    case %zu accepted\n", i);
		CHECK_INT(rc, FS_EINVAL);
		buf_release(&c.log);
	}
}

static void huge_part_headers_are_refused(void)
{
	struct buf b;
	struct captured c;
	struct fs_error e = { 0, "" };
	buf_init(&b, BUF_NO_LIMIT);
	buf_init(&c.log, BUF_NO_LIMIT);
	buf_adds(&b, "--XyZ\r\nX-Junk: ");
	for (int i = 0; i < 2000; i++)
		buf_adds(&b, "0123456789");
	CHECK_INT(parse_in_pieces(b.ptr, b.len, 4096, &c, &e), FS_EINVAL);
	CHECK_CONTAINS(e.msg, "headers larger");
	buf_release(&b);
	buf_release(&c.log);
}

static void boundary_from_content_type(void)
{
	char b[80];
	struct fs_error e;
	CHECK_INT(multipart_boundary("multipart/form-data; boundary=----abc123", b, sizeof(b), &e), 0);
	CHECK_STR(b, "----abc123");
	CHECK_INT(multipart_boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\"", b, sizeof(b), &e), 0);
	CHECK_STR(b, "a b");
	CHECK_INT(multipart_boundary("application/json", b, sizeof(b), &e), FS_EINVAL);
	CHECK_INT(multipart_boundary("multipart/form-data", b, sizeof(b), &e), FS_EINVAL);
	CHECK_INT(multipart_boundary(NULL, b, sizeof(b), &e), FS_EINVAL);
}

static void filenames_are_made_safe(void)
{
	static const char *const cases[][2] = {
		{ "policies.pdf", "policies.pdf" },
		{ "../../etc/passwd", "passwd" },
		{ "C:\\Users\\me\\handbook.docx", "handbook.docx" },
		{ "a/b/", "upload" },
		{ "..", "upload" },
		{ "", "upload" },
		{ "tab\there.txt", "tabhere.txt" },
		{ "résumé.md", "résumé.md" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = multipart_safe_filename(cases[i][0]);
		CHECK_STR(s, cases[i][1]);
		free(s);
	}
	char *none = multipart_safe_filename(NULL);
	CHECK_STR(none, "upload");
	free(none);
	/* 300 two-byte characters: cut to at most 255 bytes, never inside a character. */
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	for (int i = 0; i < 300; i++)
		buf_adds(&b, "é");
	char *s = multipart_safe_filename(b.ptr);
	CHECK_INT(strlen(s), 254);
	free(s);
	buf_release(&b);
}

const struct test_case multipart_cases[] = {
	{ "multipart_same_parts_for_every_split", same_parts_for_every_split },
	{ "multipart_malformed_bodies_are_refused", malformed_bodies_are_refused },
	{ "multipart_huge_part_headers_are_refused", huge_part_headers_are_refused },
	{ "multipart_boundary_from_content_type", boundary_from_content_type },
	{ "multipart_filenames_are_made_safe", filenames_are_made_safe },
	{ NULL, NULL },
};
