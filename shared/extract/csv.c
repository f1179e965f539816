/* CSV reader for FAQ sheets: RFC 4180 records, the delimiter sniffed from the header, question and answer
 * columns found by name, an optional category column as the heading. */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/banned.h"

#define CSV_MAX_FIELDS 256

/* One record's fields, unquoted, each NUL-terminated inside data. */
struct csv_row {
	struct buf data;
	size_t off[CSV_MAX_FIELDS];
	size_t n;
};

/* Reads one RFC 4180 record from *pos: quoted fields may hold the delimiter, newlines and doubled quotes; a
 * stray quote inside an unquoted field is kept as a character; an unterminated quote runs to the end. Fields
 * past CSV_MAX_FIELDS are dropped. 0 at the end of input, 1 otherwise, -1 when the cap is hit. */
static int csv_record(const char *s, size_t len, size_t *pos, char delim, struct csv_row *row)
{
	size_t i = *pos;
	if (i >= len)
		return 0;
	buf_reset(&row->data);
	row->n = 0;
	for (;;) {
		size_t start = row->data.len;
		int keep = row->n < CSV_MAX_FIELDS;
		if (i < len && s[i] == '"') {
			i++;
			while (i < len) {
				if (s[i] == '"') {
					if (i + 1 < len && s[i + 1] == '"') {
						if (keep && buf_add(&row->data, "\"", 1) < 0)
							return -1;
						i += 2;
						continue;
					}
					i++;
					break;
				}
				size_t j = i;
				while (j < len && s[j] != '"')
					j++;
				if (keep && buf_add(&row->data, s + i, j - i) < 0)
					return -1;
				i = j;
			}
		}
		/* unquoted part (or text after a closing quote, kept as is) */
		size_t j = i;
		while (j < len && s[j] != delim && s[j] != '\n')
			j++;
		if (keep && buf_add(&row->data, s + i, j - i) < 0)
			return -1;
		i = j;
		if (keep) {
			if (buf_add(&row->data, "", 1) < 0)
				return -1;
			row->off[row->n++] = start;
		}
		if (i < len && s[i] == delim) {
			i++;
			continue;
		}
		if (i < len && s[i] == '\n')
			i++;
		break;
	}
	*pos = i;
	return 1;
}

static const char *csv_field(const struct csv_row *row, size_t k)
{
	return k < row->n ? row->data.ptr + row->off[k] : "";
}

/* Field k without surrounding blanks. */
static struct line csv_cell(const struct csv_row *row, size_t k)
{
	const char *f = csv_field(row, k);
	return text_trim_line((struct line){ f, strlen(f) });
}

/* Delimiter from the header line: the most frequent of comma, semicolon and tab outside quotes. */
static char csv_sniff(const char *s, size_t len)
{
	size_t comma = 0, semi = 0, tab = 0;
	int quoted = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '"')
			quoted = !quoted;
		else if (!quoted && c == '\n')
			break;
		else if (!quoted && c == ',')
			comma++;
		else if (!quoted && c == ';')
			semi++;
		else if (!quoted && c == '\t')
			tab++;
	}
	if (tab > comma && tab >= semi)
		return '\t';
	if (semi > comma)
		return ';';
	return ',';
}

/* The first column whose trimmed, case-folded name is in names (earlier names win), or -1. */
static long csv_column(const struct csv_row *hdr, const char *const *names, long skip)
{
	for (; *names; names++)
		for (size_t k = 0; k < hdr->n; k++) {
			struct line t = csv_cell(hdr, k);
			if ((long)k != skip && t.n == strlen(*names) && strncasecmp(t.s, *names, t.n) == 0)
				return (long)k;
		}
	return -1;
}

int extract_csv_read(const char *text, size_t len, const struct extract_limits *lim, struct builder *b)
{
	static const char *const qnames[] = { "question", "questions", "q", "faq", "query", "prompt", "title", NULL };
	static const char *const anames[] = { "answer", "answers", "a", "response", "reply", "content", "text",
					      "body", NULL };
	static const char *const cnames[] = { "category", "section", "topic", NULL };
	struct csv_row row;
	size_t pos = 0;
	int rc = 0, got;

	(void)lim;
	buf_init(&row.data, b->max);
	row.n = 0;
	char delim = csv_sniff(text, len);
	/* header: the first record that is not empty */
	while ((got = csv_record(text, len, &pos, delim, &row)) == 1 && row.n == 1 && csv_field(&row, 0)[0] == '\0')
		;
	if (got < 0) {
		rc = bld_too_large(b);
		goto out;
	}
	if (got == 0) {
		rc = fs_fail(b->e, FS_EINVAL, "the file holds no text");
		goto out;
	}
	long qc = csv_column(&row, qnames, -1);
	long ac = csv_column(&row, anames, qc);
	long cc = csv_column(&row, cnames, -1);
	if (qc < 0 || ac < 0) {
		struct buf found, clean;
		buf_init(&found, 300);
		buf_init(&clean, 400);
		for (size_t k = 0; k < row.n; k++) {
			struct line t = csv_cell(&row, k);
			if (buf_addf(&found, "%s%.*s", k ? ", " : "", (int)t.n, t.s) < 0) {
				buf_adds(&found, ", ...");
				break;
			}
		}
		text_clean(&clean, buf_str(&found), found.len);
		rc = fs_fail(b->e, FS_EINVAL, "CSV has no question and answer columns (found: %s)", buf_str(&clean));
		buf_release(&found);
		buf_release(&clean);
		goto out;
	}
	while ((got = csv_record(text, len, &pos, delim, &row)) == 1) {
		struct line q = csv_cell(&row, (size_t)qc), a = csv_cell(&row, (size_t)ac);
		if (q.n == 0 || a.n == 0)
			continue;
		if (cc >= 0) {
			struct line cat = csv_cell(&row, (size_t)cc);
			if (cat.n > HEADING_MAX) /* not a category */
				cat.n = 0;
			if ((rc = bld_heading(b, 1, cat.s, cat.n, 0)) < 0)
				goto out;
		}
		if ((rc = bld_section(b, a.s, a.n, q.s, q.n, 0)) < 0)
			goto out;
	}
	if (got < 0) {
		rc = bld_too_large(b);
		goto out;
	}
	if (b->doc->nsections == 0)
		rc = fs_fail(b->e, FS_EINVAL, "the file holds no text (no row has both a question and an answer)");
out:
	buf_release(&row.data);
	return rc;
}
