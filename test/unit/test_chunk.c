/* chunk: Q/A pairs, size bounds, overlap, cut preferences, UTF-8 safety; and the files in test/data/chunk, each
 * chunked small and checked for the invariants every chunking must keep. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/buf.h"
#include "ingest/chunk.h"

#define CHUNK_DIR "test/data/chunk"

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Well-formed UTF-8 (structure only: lead byte followed by the right number of continuation bytes). */
static int utf8_valid(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	while (*u) {
		int k = *u < 0x80 ? 0 : (*u & 0xE0) == 0xC0 ? 1 : (*u & 0xF0) == 0xE0 ? 2 : (*u & 0xF8) == 0xF0 ? 3 : -1;
		if (k < 0)
			return 0;
		u++;
		for (; k > 0; k--, u++)
			if ((*u & 0xC0) != 0x80)
				return 0;
	}
	return 1;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* Chunks one section of text with the given sizes. */
static size_t chunk_one(const char *text, const char *question, size_t target, size_t max, size_t overlap,
			struct chunk **out)
{
	struct extract_section sec = { .heading = "Policy > Travel", .text = (char *)text, .question = (char *)question,
				       .page = 7 };
	struct extract_doc doc = { .sections = &sec, .nsections = 1 };
	struct chunk_opts o = { target, max, overlap, 0 }; /* one section: nothing to merge */
	struct fs_error e;
	size_t n = 0;
	*out = NULL;
	CHECK_INT(chunk_document(&doc, &o, out, &n, &e), 0);
	return n;
}

/* The invariants of the pieces of one plain section: each is within max characters, valid UTF-8, trimmed, a
 * piece of the source that starts at or before the end of what earlier pieces covered (its overlap) and goes
 * past it; together they cover the whole source. Returns the number of pieces that repeated something. */
static size_t check_pieces(const char *src, const struct chunk *c, size_t n, size_t max, size_t overlap)
{
	size_t len = strlen(src), covered = 0, overlapped = 0;
	while (covered < len && is_ws(src[covered]))
		covered++;
	for (size_t i = 0; i < n; i++) {
		const char *t = c[i].text;
		size_t tl = strlen(t);
		CHECK(utf8_chars(t) <= max);
		CHECK(utf8_valid(t));
		CHECK(tl > 0 && !is_ws(t[0]) && !is_ws(t[tl - 1]));
		CHECK_STR(c[i].section, "Policy > Travel");
		CHECK_INT(c[i].page, 7);
		CHECK(c[i].question == NULL && c[i].answer == NULL);
		/* the occurrence repeating the least, as repetitive sources have several */
		const char *at = NULL;
		for (size_t p = covered + 1; p-- > 0 && p + tl > covered;)
			if (p + tl <= len && memcmp(src + p, t, tl) == 0) {
				at = src + p;
				break;
			}
		if (!at) {
			printf("    chunk %zu does not continue the source at byte %zu: \"%.60s\"\n", i, covered, t);
			check_failed = 1;
			return overlapped;
		}
		size_t rep = covered - (size_t)(at - src);
		while (rep && is_ws(at[rep - 1]))
			rep--;
		if (rep) {
			char *r = xstrndup(at, rep);
			CHECK(utf8_chars(r) <= overlap);
			CHECK(utf8_valid(r));
			free(r);
			overlapped++;
		}
		covered = (size_t)(at - src) + tl;
		while (covered < len && is_ws(src[covered]))
			covered++;
	}
	CHECK_INT(covered, len);
	return overlapped;
}

static void chunk_defaults(void)
{
	struct chunk_opts o;
	chunk_opts_default(&o);
	CHECK_INT(o.target_chars, 1000);
	CHECK_INT(o.max_chars, 1500);
	CHECK_INT(o.overlap_chars, 150);
	CHECK_INT(o.min_chars, 200);
}

static void chunk_short_section(void)
{
	struct chunk *c;
	size_t n = chunk_one("  \n Per diem covers meals.\n\n  ", NULL, 1000, 1500, 150, &c);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(c[0].text, "Per diem covers meals.");
		CHECK_STR(c[0].section, "Policy > Travel");
		CHECK_INT(c[0].page, 7);
		CHECK(c[0].question == NULL && c[0].answer == NULL);
	}
	chunk_list_free(c, n);
}

/* Unique words w0 w1 …, sentences of 4–14 words, paragraphs of 2–6 sentences; deterministic. */
static char *make_prose(size_t words)
{
	struct buf b;
	unsigned r = 12345;
	size_t sent = 0, para = 0, sent_len = 8, para_len = 3;
	buf_init(&b, BUF_NO_LIMIT);
	for (size_t i = 0; i < words; i++) {
		buf_addf(&b, "w%zu", i);
		if (++sent < sent_len) {
			buf_adds(&b, " ");
			continue;
		}
		r = r * 1103515245u + 12345u;
		sent = 0;
		sent_len = 4 + (r >> 16) % 11;
		buf_adds(&b, (r >> 8) % 5 ? "." : "?");
		if (++para < para_len) {
			buf_adds(&b, " ");
			continue;
		}
		para = 0;
		para_len = 2 + (r >> 20) % 5;
		buf_adds(&b, "\n\n");
	}
	return buf_take(&b, NULL);
}

/* Words separated by whitespace, with sentence punctuation taken off. */
static size_t split_words(const char *s, char ***out)
{
	size_t n = 0, cap = 64;
	char **w = xmalloc(cap * sizeof(*w));
	while (*s) {
		while (*s && is_ws(*s))
			s++;
		const char *b = s;
		while (*s && !is_ws(*s))
			s++;
		size_t l = (size_t)(s - b);
		while (l && (b[l - 1] == '.' || b[l - 1] == '?'))
			l--;
		if (!l)
			continue;
		if (n == cap)
			w = xrealloc(w, (cap *= 2) * sizeof(*w));
		w[n++] = xstrndup(b, l);
	}
	*out = w;
	return n;
}

static void free_words(char **w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

static void chunk_long_section_split_with_overlap(void)
{
	char *src = make_prose(2500), **sw, **cw;
	struct chunk *c;
	size_t n = chunk_one(src, NULL, 1000, 1500, 150, &c);
	size_t nsw = split_words(src, &sw), idx = 0;
	CHECK(n >= 10);
	CHECK_INT(check_pieces(src, c, n, 1500, 150), n - 1);
	/* Words: each piece is a run of the source's words that begins within the words already covered (the
	 * overlap, whole words) and ends past them. */
	for (size_t i = 0; i < n && !check_failed; i++) {
		size_t ncw = split_words(c[i].text, &cw), j;
		CHECK(utf8_chars(c[i].text) >= 400);
		for (j = idx > ncw ? idx - ncw + 1 : 0; j <= idx; j++) {
			size_t k = 0;
			while (k < ncw && j + k < nsw && strcmp(cw[k], sw[j + k]) == 0)
				k++;
			if (k == ncw && j + k > idx)
				break;
		}
		CHECK(j <= idx);
		if (i > 0)
			CHECK(j < idx);
		idx = j + ncw;
		free_words(cw, ncw);
	}
	CHECK_INT(idx, nsw);
	/* No paragraph is more than about 6 * 14 words, so every cut has a paragraph or sentence end to take. */
	for (size_t i = 0; i + 1 < n; i++) {
		char last = c[i].text[strlen(c[i].text) - 1];
		CHECK(last == '.' || last == '?');
	}
	free_words(sw, nsw);
	chunk_list_free(c, n);
	free(src);
}

/* A piece that repeats the end of the one before starts where a sentence or a list item starts, never inside
 * one: a list item longer than the overlap ("- Do not require ... (e.g., periodically) unless ...") is repeated
 * whole or not at all, so no piece begins "(e.g., periodically) unless ...", the item without its negation. */
static void chunk_overlap_starts_at_sentences(void)
{
	struct buf b;
	struct chunk *c;
	buf_init(&b, BUF_NO_LIMIT);
	for (int p = 0; p < 8; p++) {
		buf_addf(&b, "Section %d says what follows. Read it with care.\n\n", p);
		for (int i = 0; i < 4; i++)
			buf_addf(&b, "- Do not require that item %d.%d be changed arbitrarily (e.g., periodically) unless "
				     "there is a request or evidence of compromise of the thing in question.\n",
				 p, i);
		buf_adds(&b, "- Short item.\n\n");
	}
	const char *src = buf_str(&b);
	size_t n = chunk_one(src, NULL, 400, 600, 120, &c);
	CHECK(n >= 8);
	size_t repeated = check_pieces(src, c, n, 600, 120);
	CHECK(repeated >= 1);
	for (size_t i = 1; i < n; i++) {
		const char *t = c[i].text;
		CHECK(t[0] == '-' || t[0] == 'S' || t[0] == 'R');
		if (strncmp(t, "(e.g.", 5) == 0 || strncmp(t, "unless", 6) == 0)
			printf("    piece %zu starts inside a sentence: \"%.50s\"\n", i, t);
		CHECK(strncmp(t, "(e.g.", 5) != 0 && strncmp(t, "unless", 6) != 0);
	}
	chunk_list_free(c, n);
	buf_release(&b);
}

static void chunk_prefers_paragraphs(void)
{
	/* Paragraphs of about 300 characters with sentence ends throughout: cuts fall between paragraphs. */
	struct buf b;
	struct chunk *c;
	buf_init(&b, BUF_NO_LIMIT);
	for (int p = 0; p < 12; p++) {
		for (int s = 0; s < 6; s++)
			buf_addf(&b, "Paragraph %02d sentence %d has words. ", p, s);
		buf_addf(&b, "End of paragraph %02d.\n\n", p);
	}
	size_t n = chunk_one(buf_str(&b), NULL, 1000, 1500, 150, &c);
	CHECK(n >= 3);
	check_pieces(buf_str(&b), c, n, 1500, 150);
	for (size_t i = 0; i < n; i++) {
		const char *end = strrchr(c[i].text, 'E');
		CHECK(end && strncmp(end, "End of paragraph ", 17) == 0 && strlen(end) == 20);
	}
	chunk_list_free(c, n);
	buf_release(&b);
}

static void chunk_qa_pair(void)
{
	struct chunk *c;
	size_t n = chunk_one("  Click \"Forgot password\" on the sign-in page.\n", " How do I reset my password? ", 1000,
			     1500, 150, &c);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(c[0].text, "Q: How do I reset my password?\nA: Click \"Forgot password\" on the sign-in page.");
		CHECK_STR(c[0].question, "How do I reset my password?");
		CHECK_STR(c[0].answer, "Click \"Forgot password\" on the sign-in page.");
		CHECK_STR(c[0].section, "Policy > Travel");
		CHECK_INT(c[0].page, 7);
	}
	chunk_list_free(c, n);
}

static void chunk_qa_long_answer_cut_at_word(void)
{
	char *answer = make_prose(1000);
	struct chunk *c;
	size_t n = chunk_one(answer, "What are the rules?", 1000, 1500, 150, &c);
	CHECK_INT(n, 1);
	if (n == 1) {
		size_t al = strlen(c[0].answer);
		CHECK(utf8_chars(c[0].text) <= 1500);
		CHECK(utf8_chars(c[0].text) >= 1400);
		CHECK(strncmp(answer, c[0].answer, al) == 0);
		CHECK(is_ws(answer[al])); /* cut between words */
		CHECK_STR(c[0].question, "What are the rules?");
		CHECK(strncmp(c[0].text, "Q: What are the rules?\nA: ", 26) == 0);
		CHECK_STR(c[0].text + 26, c[0].answer);
	}
	chunk_list_free(c, n);
	free(answer);
}

/* Appends code point cp as UTF-8. */
static void add_cp(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3F)), u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
	}
	buf_add(b, u, n);
}

static void chunk_multibyte_never_split(void)
{
	/* Cyrillic words, CJK without spaces (cut at 。), and 4-byte emoji without any break (hard cuts); varied so
	 * that each piece has one place in the source. */
	struct buf b;
	struct chunk *c;
	unsigned r = 99;
	buf_init(&b, BUF_NO_LIMIT);
	for (int i = 0; i < 150; i++)
		buf_addf(&b, "Привет мир%d ", i);
	buf_adds(&b, "\n\n");
	for (int i = 0; i < 1500; i++) {
		r = r * 1103515245u + 12345u;
		if ((r >> 16) % 9 == 0)
			buf_adds(&b, "。");
		else
			add_cp(&b, 0x4E00 + (r >> 8) % 20000);
	}
	buf_adds(&b, "。\n\n");
	for (unsigned i = 0; i < 1200; i++)
		add_cp(&b, 0x1F300 + i % 700);
	size_t n = chunk_one(buf_str(&b), NULL, 300, 450, 50, &c);
	CHECK(n >= 8);
	check_pieces(buf_str(&b), c, n, 450, 50);
	for (size_t i = 0; i < n; i++) {
		const char *t = c[i].text;
		if (strstr(t, "。") && !strstr(t, "\xF0") && !strstr(t, "Привет"))
			CHECK(strcmp(t + strlen(t) - 3, "。") == 0);
	}
	chunk_list_free(c, n);
	buf_release(&b);
}

static void chunk_empty_sections(void)
{
	struct extract_section secs[] = {
		{ .heading = "A", .text = "" },
		{ .heading = "B", .text = " \n\n \t " },
		{ .heading = "C", .text = NULL },
		{ .heading = NULL, .text = "Only this.", .page = 2 },
		{ .heading = "D", .text = "  ", .question = "  " },
	};
	struct extract_doc doc = { .sections = secs, .nsections = sizeof(secs) / sizeof(secs[0]) };
	struct chunk *c = NULL;
	size_t n = 99;
	CHECK_INT(chunk_document(&doc, NULL, &c, &n, NULL), 0);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(c[0].text, "Only this.");
		CHECK_STR(c[0].section, "");
		CHECK_INT(c[0].page, 2);
	}
	chunk_list_free(c, n);

	doc.nsections = 0;
	CHECK_INT(chunk_document(&doc, NULL, &c, &n, NULL), 0);
	CHECK_INT(n, 0);
	chunk_list_free(c, n);
}

static void chunk_single_huge_word(void)
{
	char *word = xmalloc(5001);
	struct chunk *c;
	memset(word, 'x', 5000);
	word[5000] = '\0';
	size_t n = chunk_one(word, NULL, 1000, 1500, 150, &c);
	CHECK(n >= 4 && n <= 5);
	CHECK_INT(check_pieces(word, c, n, 1500, 150), 0); /* no word boundary, so nothing repeated */
	chunk_list_free(c, n);
	free(word);
}

/* Sections of a fair size each give their own chunks. (Before tiny sections were merged this used two
 * one-sentence sections; those are now joined, see chunk_merges_tiny_sections.) */
static void chunk_never_spans_sections(void)
{
	char *one = make_prose(60), *two = make_prose(70);
	struct extract_section secs[] = {
		{ .heading = "One", .text = one },
		{ .heading = "Two", .text = two, .page = 3 },
	};
	struct extract_doc doc = { .sections = secs, .nsections = 2 };
	struct chunk *c;
	size_t n;
	CHECK_INT(chunk_document(&doc, NULL, &c, &n, NULL), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(c[0].section, "One");
		CHECK_STR(c[1].section, "Two");
		CHECK_INT(c[1].page, 3);
	}
	chunk_list_free(c, n);
	free(one);
	free(two);
}

/* A section under min_chars that says little (a lone link, a bullet, a heading's words) is no chunk of its own:
 * it joins the neighbour on the same page sharing more of its heading path (the next one on a tie), keeping the
 * bigger one's heading; text of two pages is never joined, nor a Q/A pair, so a tiny section between two of them
 * stays alone; a short section that is a sentence joins only its own heading's text. */
static void chunk_merges_tiny_sections(void)
{
	char *big = make_prose(80), *big2 = make_prose(90);
	struct extract_section secs[] = {
		{ .heading = "Leave", .text = "Leave types (https://example.gov/leave)", .page = 2 },
		{ .heading = "Leave > Annual", .text = big, .page = 2 },
		{ .heading = "Leave > Annual", .text = "* GSA guidance found on InSite", .page = 2 },
		{ .heading = "Travel", .text = big2, .page = 4 },
		{ .heading = "Travel", .text = "Next page, alone.", .page = 5 }, /* pages never mix */
		{ .heading = "FAQ", .text = "Yes.", .question = "Can I?" },
		{ .heading = "FAQ", .text = "See the wiki." },
		{ .heading = "FAQ", .text = "No.", .question = "Must I?" },
		/* short but a sentence: stays under its own heading rather than join a sibling */
		{ .heading = "Travel > Booking", .text = "Book flights through the portal two weeks ahead.", .page = 4 },
		{ .heading = "Travel > Rates", .text = big, .page = 4 },
	};
	struct extract_doc doc = { .sections = secs, .nsections = sizeof(secs) / sizeof(secs[0]) };
	struct chunk *c;
	size_t n;
	CHECK_INT(chunk_document(&doc, NULL, &c, &n, NULL), 0);
	CHECK_INT(n, 8);
	if (n == 8) {
		/* the intro goes forward into its child, the trailing line back into its own section */
		CHECK_STR(c[0].section, "Leave > Annual");
		CHECK_INT(c[0].page, 2);
		CHECK(strncmp(c[0].text, "Leave types (https://example.gov/leave)\n\n", 41) == 0);
		CHECK(strstr(c[0].text, "* GSA guidance found on InSite") != NULL);
		CHECK_STR(c[1].section, "Travel");
		CHECK_STR(c[2].text, "Next page, alone.");
		CHECK_INT(c[2].page, 5);
		CHECK(c[3].question != NULL);
		CHECK_STR(c[4].text, "See the wiki.");
		CHECK(c[5].question != NULL);
		CHECK_STR(c[6].section, "Travel > Booking");
		CHECK_STR(c[7].section, "Travel > Rates");
	}
	chunk_list_free(c, n);
	/* min_chars 0 turns merging off */
	struct chunk_opts o;
	chunk_opts_default(&o);
	o.min_chars = 0;
	CHECK_INT(chunk_document(&doc, &o, &c, &n, NULL), 0);
	CHECK_INT(n, 10);
	chunk_list_free(c, n);
	free(big);
	free(big2);
}

static void chunk_inconsistent_opts(void)
{
	struct extract_section sec = { .heading = "", .text = "a b c" };
	struct extract_doc doc = { .sections = &sec, .nsections = 1 };
	struct chunk_opts o = { 0, 100, 10, 0 };
	struct chunk *c = NULL;
	struct fs_error e;
	size_t n;
	CHECK_INT(chunk_document(&doc, &o, &c, &n, &e), FS_EINVAL);
	/* target above max, overlap above target: clamped, still bounded by max */
	char *src = make_prose(600);
	struct chunk_opts o2 = { 900, 300, 800, 0 };
	sec.text = src;
	CHECK_INT(chunk_document(&doc, &o2, &c, &n, &e), 0);
	CHECK(n >= 10);
	for (size_t i = 0; i < n; i++)
		CHECK(utf8_chars(c[i].text) <= 300);
	chunk_list_free(c, n);
	free(src);
}

/* Every file in test/data/chunk, chunked with small sizes, keeps the invariants. */
static void chunk_data_files(void)
{
	DIR *d = opendir(CHUNK_DIR);
	struct dirent *de;
	int files = 0;
	CHECK(d != NULL);
	while (d && (de = readdir(d))) {
		char path[512];
		struct buf b;
		struct chunk *c;
		if (!strstr(de->d_name, ".txt"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", CHUNK_DIR, de->d_name);
		FILE *f = fopen(path, "rb");
		CHECK(f != NULL);
		if (!f)
			continue;
		buf_init(&b, BUF_NO_LIMIT);
		char tmp[4096];
		size_t got;
		while ((got = fread(tmp, 1, sizeof(tmp), f)) > 0)
			buf_add(&b, tmp, got);
		fclose(f);
		size_t n = chunk_one(buf_str(&b), NULL, 200, 300, 40, &c);
		int before = check_failed;
		check_failed = 0;
		CHECK(n >= 3);
		check_pieces(buf_str(&b), c, n, 300, 40);
		if (check_failed)
			printf("    in %s\n", path);
		check_failed |= before;
		chunk_list_free(c, n);
		buf_release(&b);
		files++;
	}
	if (d)
		closedir(d);
	CHECK(files >= 3);
}

/* Random texts of words, spaces, newlines, punctuation and 2-, 3- and 4-byte characters, chunked with random
 * sizes: no cut inside a character, nothing over max, everything covered. Fixed seed. */
static void chunk_random_texts_keep_invariants(void)
{
	static const char *const atoms[] = { " ", " ", " ", "\n", "\n\n", ". ", "! ", "? ", "。", "é", "日", "😀",
					     "ß", "\t", "-", ",", "ж", "ω" };
	unsigned r = 4242;
	for (int round = 0; round < 200 && !check_failed; round++) {
		struct buf b;
		struct chunk *c;
		buf_init(&b, BUF_NO_LIMIT);
		r = r * 1103515245u + 12345u;
		size_t len = (r >> 8) % 6000;
		while (b.len < len) {
			r = r * 1103515245u + 12345u;
			unsigned k = (r >> 16) % 40;
			if (k < sizeof(atoms) / sizeof(atoms[0]))
				buf_adds(&b, atoms[k]);
			else if (k == 39 && (r >> 4) % 8 == 0) /* a long run of spaces (bad PDF layout) */
				buf_addf(&b, "%*s", (int)((r >> 8) % 2000), "");
			else /* a word of 1–12 random letters */
				for (unsigned j = 0, wl = 1 + (r >> 4) % 12; j < wl; j++) {
					r = r * 1103515245u + 12345u;
					char ch = (char)('a' + (r >> 16) % 26);
					buf_add(&b, &ch, 1);
				}
		}
		r = r * 1103515245u + 12345u;
		size_t target = 20 + (r >> 8) % 1500, max = target + (r >> 4) % 500, overlap = (r >> 12) % 200;
		size_t n = chunk_one(buf_str(&b), NULL, target, max, overlap, &c);
		check_pieces(buf_str(&b), c, n, max, overlap);
		if (check_failed)
			printf("    round %d: %zu bytes, sizes %zu/%zu/%zu\n", round, b.len, target, max, overlap);
		chunk_list_free(c, n);
		buf_release(&b);
	}
}

const struct test_case chunk_cases[] = {
	{ "chunk_defaults", chunk_defaults },
	{ "chunk_short_section", chunk_short_section },
	{ "chunk_long_section_split_with_overlap", chunk_long_section_split_with_overlap },
	{ "chunk_overlap_starts_at_sentences", chunk_overlap_starts_at_sentences },
	{ "chunk_prefers_paragraphs", chunk_prefers_paragraphs },
	{ "chunk_qa_pair", chunk_qa_pair },
	{ "chunk_qa_long_answer_cut_at_word", chunk_qa_long_answer_cut_at_word },
	{ "chunk_multibyte_never_split", chunk_multibyte_never_split },
	{ "chunk_empty_sections", chunk_empty_sections },
	{ "chunk_single_huge_word", chunk_single_huge_word },
	{ "chunk_never_spans_sections", chunk_never_spans_sections },
	{ "chunk_merges_tiny_sections", chunk_merges_tiny_sections },
	{ "chunk_inconsistent_opts", chunk_inconsistent_opts },
	{ "chunk_data_files", chunk_data_files },
	{ "chunk_random_texts_keep_invariants", chunk_random_texts_keep_invariants },
	{ NULL, NULL },
};
