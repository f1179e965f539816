/* Content sniffing for uploads: libmagic, plus libzip to recognise DOCX that libmagic calls zip. Kept apart
 * from the readers so the web programs, which only detect, do not load poppler and its kin. */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <magic.h>
#include <zip.h>

#include "core/buf.h"
#include "core/banned.h"

const struct extract_type extract_types[EXTRACT_CSV + 1] = {
	[EXTRACT_PDF] = { .name = "pdf", .mime = "application/pdf" },
	[EXTRACT_DOCX] = { .name = "docx", .mime = DOCX_MIME },
	[EXTRACT_HTML] = { .name = "html", .mime = "text/html" },
	[EXTRACT_MARKDOWN] = { .name = "markdown", .mime = "text/markdown" },
	[EXTRACT_TEXT] = { .name = "text", .mime = "text/plain" },
	[EXTRACT_CSV] = { .name = "csv", .mime = "text/csv" },
};

const char *extract_kind_mime(enum extract_kind kind)
{
	size_t k = (size_t)kind;
	if (k >= sizeof(extract_types) / sizeof(extract_types[0]) || !extract_types[k].mime)
		return "application/octet-stream";
	return extract_types[k].mime;
}

static int has_suffix_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int extract_is_markdown_name(const char *name)
{
	return name && (has_suffix_ci(name, ".md") || has_suffix_ci(name, ".markdown") ||
			has_suffix_ci(name, ".mdown"));
}

/* ---- Detection ------------------------------------------------------------------------------------------- */

/* The libmagic cookie is opened on first use and kept for the life of the process: loading the compiled magic
 * database costs about 4 ms, more than sniffing a file. The programs are single-threaded, so a static is safe;
 * it is deliberately never closed (the OS reclaims it at exit). */
static magic_t magic_cookie;

static magic_t magic_get(void)
{
	if (magic_cookie)
		return magic_cookie;
	magic_t m = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
	if (!m)
		return NULL;
	if (magic_load(m, NULL) != 0) {
		magic_close(m);
		return NULL;
	}
	magic_cookie = m;
	return m;
}

static int zip_is_docx(const void *data, size_t len)
{
	zip_t *za = extract_zip_from_memory(data, len, NULL);
	if (!za)
		return 0;
	int yes = zip_name_locate(za, "word/document.xml", 0) >= 0;
	zip_discard(za);
	return yes;
}

/* Types libmagic gives to plain text that looks like program code (a help article quoting a script): still text
 * to us. */
static int is_code_text(const char *m)
{
	static const char *const code[] = { "application/javascript", "application/json", "application/x-shellscript",
					    "application/x-php", "application/x-ruby", "application/x-perl",
					    "application/sql", "application/x-httpd-php" };
	for (size_t i = 0; i < sizeof(code) / sizeof(code[0]); i++)
		if (!strcmp(m, code[i]))
			return 1;
	return 0;
}

/* Whether the first element of an XML document is <html> (XHTML served as text/xml): skips the declaration,
 * comments, processing instructions and the DOCTYPE (with any internal subset) in the first 64 KiB. */
static int xml_root_is_html(const char *s, size_t n)
{
	if (n > 64 * KIB)
		n = 64 * KIB;
	size_t i = 0;
	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < n) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
			continue;
		}
		if (c != '<' || i + 1 >= n)
			return 0;
		const char *end = NULL; /* the last character of the construct */
		if (s[i + 1] == '?') {
			end = memmem(s + i, n - i, "?>", 2);
			end = end ? end + 1 : NULL;
		} else if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
			end = memmem(s + i + 4, n - i - 4, "-->", 3);
			end = end ? end + 2 : NULL;
		} else if (s[i + 1] == '!') {
			int in_subset = 0;
			for (size_t j = i + 2; j < n && !end; j++) {
				if (s[j] == '[')
					in_subset = 1;
				else if (s[j] == ']')
					in_subset = 0;
				else if (s[j] == '>' && !in_subset)
					end = s + j;
			}
		} else {
			size_t j = i + 1, start = j;
			while (j < n && s[j] != '>' && s[j] != '/' && s[j] != ' ' && s[j] != '\t' && s[j] != '\r' &&
			       s[j] != '\n') {
				if (s[j] == ':')
					start = j + 1; /* a prefixed name: compare the local part */
				j++;
			}
			return j - start == 4 && strncasecmp(s + start, "html", 4) == 0;
		}
		if (!end)
			return 0;
		i = (size_t)(end - s) + 1;
	}
	return 0;
}

/* Whether the text starts, after blanks, with '<' (real HTML rather than Markdown with inline HTML). */
static int starts_with_tag(const char *s, size_t n)
{
	size_t i = n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	return i < n && s[i] == '<';
}

enum extract_kind extract_detect(const void *data, size_t len, const char *filename, char *mime, size_t mime_size)
{
	const char *m = NULL;
	enum extract_kind kind = EXTRACT_NONE;

	if (len == 0) {
		m = "application/x-empty";
		goto out;
	}
	magic_t cookie = magic_get();
	if (cookie)
		m = magic_buffer(cookie, data, len);
	if (!m)
		m = "application/octet-stream";

	if (strcmp(m, "application/pdf") == 0) {
		kind = EXTRACT_PDF;
	} else if (strcmp(m, DOCX_MIME) == 0) {
		kind = EXTRACT_DOCX;
	} else if (strcmp(m, "application/zip") == 0 || strcmp(m, "application/octet-stream") == 0) {
		/* libmagic names some DOCX files (other producers' entry order) only as zips. */
		if (zip_is_docx(data, len)) {
			m = DOCX_MIME;
			kind = EXTRACT_DOCX;
		}
	} else if (strcmp(m, "text/html") == 0 || strcmp(m, "application/xhtml+xml") == 0) {
		/* Markdown with inline HTML is sniffed as HTML; a real page starts with a tag. */
		kind = extract_is_markdown_name(filename) && !starts_with_tag(data, len) ? EXTRACT_MARKDOWN : EXTRACT_HTML;
	} else if ((strcmp(m, "text/xml") == 0 || strcmp(m, "application/xml") == 0) &&
		   xml_root_is_html(data, len)) {
		kind = EXTRACT_HTML;
	} else if (strcmp(m, "text/csv") == 0) {
		/* A name saying Markdown or text wins over libmagic's guess from commas. */
		if (extract_is_markdown_name(filename))
			kind = EXTRACT_MARKDOWN;
		else if (filename && (has_suffix_ci(filename, ".txt") || has_suffix_ci(filename, ".text")))
			kind = EXTRACT_TEXT;
		else
			kind = EXTRACT_CSV;
	} else if ((strncmp(m, "text/", 5) == 0 && strcmp(m, "text/rtf") != 0) || is_code_text(m)) {
		if (extract_is_markdown_name(filename))
			kind = EXTRACT_MARKDOWN;
		else if (filename && has_suffix_ci(filename, ".csv"))
			kind = EXTRACT_CSV;
		else
			kind = EXTRACT_TEXT;
	}
out:
	if (mime && mime_size)
		snprintf(mime, mime_size, "%s", m);
	return kind;
}

