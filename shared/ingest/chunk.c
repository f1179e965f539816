/* Chunking: one chunk per Q/A pair, and for other sections pieces of about target_chars cut at the best
 * boundary available (paragraph, sentence, whitespace, any UTF-8 character), each piece after the first
 * repeating the end of the previous one. Sizes count Unicode characters; every cut is at a UTF-8 boundary. */
#include "ingest/chunk.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#include "core/banned.h"

/* Where a piece may end, best first. */
enum cut_kind { CUT_PARAGRAPH, CUT_SENTENCE, CUT_SPACE, CUT_KINDS };

/* A growing chunk array (chunk_document's output). */
struct chunk_list {
	struct chunk *v;
	size_t n, cap;
};

void chunk_opts_default(struct chunk_opts *o)
{
	o->target_chars = 1000;
	o->max_chars = 1500;
	o->overlap_chars = 150;
	o->min_chars = 200;
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_cont(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

/* The byte after the character at i. Invalid UTF-8 still advances (a stray continuation byte is one
 * character), so scans always terminate and never stop inside a well-formed sequence. */
static size_t next_char(const char *s, size_t len, size_t i)
{
	i++;
	for (int k = 0; k < 3 && i < len && is_cont((unsigned char)s[i]); k++)
		i++;
	return i;
}

static size_t prev_char(const char *s, size_t i)
{
	i--;
	for (int k = 0; k < 3 && i > 0 && is_cont((unsigned char)s[i]); k++)
		i--;
	return i;
}

static size_t count_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i = next_char(s, len, i))
		n++;
	return n;
}

/* s[i] starts a blank line: "\n" then only spaces/tabs/CR up to another "\n". */
static int is_paragraph_break(const char *s, size_t len, size_t i)
{
	if (s[i] != '\n')
		return 0;
	for (i++; i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'); i++)
		;
	return i < len && s[i] == '\n';
}

/* A sentence ends just before i: ". ", "! ", "? ", or a full-width CJK 。！？ (followed by anything, as those
 * scripts put no space after them). */
static int is_sentence_end(const char *s, size_t len, size_t i)
{
	const unsigned char *u = (const unsigned char *)s;
	if (i == 0)
		return 0;
	if (i < len && is_space(u[i]) && (u[i - 1] == '.' || u[i - 1] == '!' || u[i - 1] == '?'))
		return 1;
	if (i >= 3 && ((u[i - 3] == 0xE3 && u[i - 2] == 0x80 && u[i - 1] == 0x82) ||
		       (u[i - 3] == 0xEF && u[i - 2] == 0xBC && (u[i - 1] == 0x81 || u[i - 1] == 0x9F))))
		return 1;
	return 0;
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_space((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_space((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* Bytes of the longest prefix of s (trimmed, len bytes) of at most max characters, cut at whitespace when the
 * prefix has any, else at a character boundary. */
static size_t prefix_at_word(const char *s, size_t len, size_t max)
{
	size_t i = 0, n = 0, last_space = 0;
	while (i < len && n < max) {
		i = next_char(s, len, i);
		n++;
		if (i < len && is_space((unsigned char)s[i]))
			last_space = i;
	}
	if (i >= len)
		return len;
	if (last_space == 0)
		return i;
	while (last_space > 0 && is_space((unsigned char)s[last_space - 1]))
		last_space--;
	return last_space;
}

static void push(struct chunk_list *l, char *text, const struct extract_section *sec, char *question, char *answer)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	struct chunk *c = &l->v[l->n++];
	c->text = text;
	c->section = xstrdup(sec->heading ? sec->heading : "");
	c->page = sec->page;
	c->question = question;
	c->answer = answer;
}

/* A Q/A pair is always exactly one chunk, so a search hit shows the whole pair. When the pair is longer than
 * max_chars the answer is cut on a word boundary to fit (and the answer field holds what was kept, so text is
 * always "Q: " question "\nA: " answer); a question that alone leaves less than half of max_chars for its
 * answer is itself cut to half. */
static void chunk_qa(struct chunk_list *l, const struct extract_section *sec, const char *q, size_t qlen,
		     size_t max)
{
	static const size_t frame = 7; /* "Q: " + "\nA: " */
	const char *a = sec->text ? sec->text : "";
	size_t alen = strlen(a);
	trim(&a, &alen);
	size_t qchars = count_chars(q, qlen);
	size_t budget = max > frame ? max - frame : 0;
	if (qchars > budget / 2 && qchars + count_chars(a, alen) > budget) {
		qlen = prefix_at_word(q, qlen, budget / 2);
		qchars = count_chars(q, qlen);
	}
	alen = prefix_at_word(a, alen, budget - qchars);

	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	buf_adds(&b, "Q: ");
	buf_add(&b, q, qlen);
	buf_adds(&b, "\nA:");
	if (alen) {
		buf_adds(&b, " ");
		buf_add(&b, a, alen);
	}
	push(l, buf_take(&b, NULL), sec, xstrndup(q, qlen), xstrndup(a, alen));
}

/* The end of the piece that starts at byte s (char index 0 of the piece) and must take in at least the
 * character at fresh (new text not yet in any piece): the best-ranked cut within [aim/2, max] characters, the
 * closest to aim within its rank (cuts past aim count double, so pieces lean short), else a hard cut at aim. */
static size_t find_cut(const char *t, size_t len, size_t s, size_t fresh, size_t aim, size_t max, size_t *nchars)
{
	size_t best[CUT_KINDS], best_cost[CUT_KINDS], best_n[CUT_KINDS];
	size_t i = s, n = 0, min_n = aim / 2, hard = 0, hard_n = 0;
	for (int k = 0; k < CUT_KINDS; k++)
		best[k] = 0, best_cost[k] = (size_t)-1, best_n[k] = 0;

	for (;;) {
		if (i > fresh && n >= min_n) {
			int kind = CUT_KINDS;
			if (is_paragraph_break(t, len, i))
				kind = CUT_PARAGRAPH;
			else if (is_sentence_end(t, len, i))
				kind = CUT_SENTENCE;
			else if (i < len && is_space((unsigned char)t[i]))
				kind = CUT_SPACE;
			if (kind < CUT_KINDS) {
				size_t cost = n <= aim ? aim - n : 2 * (n - aim);
				if (cost < best_cost[kind])
					best[kind] = i, best_cost[kind] = cost, best_n[kind] = n;
			}
			if (!hard && n >= aim)
				hard = i, hard_n = n;
		}
		if (i >= len || n >= max)
			break;
		i = next_char(t, len, i);
		n++;
	}
	for (int k = 0; k < CUT_KINDS; k++) {
		if (best[k]) {
			*nchars = best_n[k];
			return best[k];
		}
	}
	/* Always found: the caller cuts only when more than aim characters remain, and fresh lies less than aim
	 * characters into the piece (overlap <= target / 2 < aim). This is a guard, not a path. */
	if (!hard)
		hard = i, hard_n = n;
	*nchars = hard_n;
	return hard;
}

/* A list item starts at p: "- ", "* ", "+ ", "1. ", "2) " or a table row "|". */
static int starts_item(const char *t, size_t len, size_t p)
{
	if (t[p] == '|')
		return 1;
	if (strchr("-*+", t[p]) && p + 1 < len && (t[p + 1] == ' ' || t[p + 1] == '\t'))
		return 1;
	size_t d = p;
	while (d < len && d - p < 4 && t[d] >= '0' && t[d] <= '9')
		d++;
	return d > p && d + 1 < len && (t[d] == '.' || t[d] == ')') && t[d + 1] == ' ';
}

/* A sentence starts at p (a non-space character): after ". ", "! ", "? " or a blank line, right after a CJK
 * full stop, or at a list item or table row that begins a line. */
static int starts_sentence(const char *t, size_t len, size_t p)
{
	size_t q = p;
	while (q > 0 && is_space((unsigned char)t[q - 1]))
		q--;
	if (q == 0)
		return 1;
	if (q == p)
		return is_sentence_end(t, len, p);
	if (is_sentence_end(t, len, q) || is_paragraph_break(t, len, q))
		return 1;
	return memchr(t + q, '\n', p - q) != NULL && starts_item(t, len, p);
}

/* Where the next piece starts, given that the previous one spans [s, e): at the earliest start of a sentence
 * (or list item) within overlap characters before the new text (not before s), so that what is repeated is
 * whole sentences, as much as fits; when none starts there, at the new text itself if a sentence starts there
 * (nothing repeated rather than a piece that begins inside a sentence, which would lose the sentence's subject,
 * its negation or its condition); else (the previous piece was cut inside a long sentence) at the first word
 * start of that stretch. *fresh gets the first byte of new text (e past its whitespace), which is also the answer
 * when nothing starts in the stretch (a hard cut, or whitespace longer than the overlap). Counting back from
 * fresh rather than e keeps the piece's start within overlap characters of fresh, so find_cut always reaches
 * new text before aim. */
static size_t overlap_start(const char *t, size_t len, size_t s, size_t e, size_t overlap, size_t *fresh)
{
	size_t f = e, o, word = 0;
	while (f < len && is_space((unsigned char)t[f]))
		f++;
	*fresh = o = f;
	for (size_t k = 0; k < overlap && o > s; k++)
		o = prev_char(t, o);
	for (size_t p = o; p < e; p = next_char(t, len, p)) {
		if (is_space((unsigned char)t[p]))
			continue;
		if (starts_sentence(t, len, p))
			return p;
		if (!word && (p == 0 || is_space((unsigned char)t[p - 1])))
			word = p;
	}
	if (f >= len || starts_sentence(t, len, f))
		return f;
	return word ? word : f;
}

static void chunk_text(struct chunk_list *l, const struct extract_section *sec, const struct chunk_opts *o)
{
	const char *t = sec->text ? sec->text : "";
	size_t len = strlen(t);
	trim(&t, &len);
	if (!len)
		return;
	size_t total = count_chars(t, len);
	if (total <= o->target_chars) {
		push(l, xstrndup(t, len), sec, NULL, NULL);
		return;
	}

	/* Invariants: s is the piece's start (a word start, or fresh), s_ch its character index; fresh is the first
	 * byte not yet in any piece, and no piece ends before taking it in, so every turn makes progress. */
	size_t s = 0, s_ch = 0, fresh = 0;
	while (fresh < len) {
		size_t rest = total - s_ch, n = 0, e;
		if (rest <= o->target_chars) {
			e = len;
		} else {
			/* Aim at target, but split a rest shorter than two targets evenly (counting the overlap the
			 * second piece repeats) rather than leave a scrap at the end. */
			size_t aim = (rest + o->overlap_chars + 1) / 2;
			if (aim > o->target_chars)
				aim = o->target_chars;
			e = find_cut(t, len, s, fresh, aim, o->max_chars, &n);
		}
		const char *p = t + s;
		size_t plen = e - s;
		trim(&p, &plen);
		if (plen)
			push(l, xstrndup(p, plen), sec, NULL, NULL);
		if (e >= len)
			break;
		size_t next = overlap_start(t, len, s, e, o->overlap_chars, &fresh);
		if (next <= e)
			s_ch += n - count_chars(t + next, e - next);
		else
			s_ch += n + count_chars(t + e, next - e);
		s = next;
	}
}

/* A section as chunking sees it: trimmed text, owned; merged sections hold both texts. */
struct part {
	const struct extract_section *sec; /* heading and page come from here (the bigger of merged sections) */
	char *text;
	size_t len, chars;
	int qa;
	int dead; /* merged into a neighbour */
};

/* How many leading " > " levels two heading paths share. */
static size_t common_levels(const char *a, const char *b)
{
	size_t n = 0, i = 0;
	a = a ? a : "";
	b = b ? b : "";
	if (!*a || !*b)
		return 0;
	for (;; i++) {
		int end_a = a[i] == '\0' || strncmp(a + i, " > ", 3) == 0;
		int end_b = b[i] == '\0' || strncmp(b + i, " > ", 3) == 0;
		if (end_a && end_b)
			n++;
		if (end_a || end_b || a[i] != b[i])
			return n;
	}
}

/* Joins p into q, whose heading becomes that of the bigger one (both are on one page); before says p comes first. */
static void merge_into(struct part *q, struct part *p, int before)
{
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	buf_add(&b, before ? p->text : q->text, before ? p->len : q->len);
	buf_adds(&b, "\n\n");
	buf_add(&b, before ? q->text : p->text, before ? q->len : p->len);
	if (p->chars > q->chars)
		q->sec = p->sec;
	q->chars += p->chars;
	free(q->text);
	q->text = buf_take(&b, &q->len);
	p->dead = 1;
}

/* Whether text says little: under five words, or no sentence in it (nothing ends in ".", "?" or "!"): a lone
 * link, a bullet, a heading's words, "* GSA Paid Parental Leave guidance found on InSite". */
static int says_little(const char *t, size_t len)
{
	size_t words = 0;
	int sentence = 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_space((unsigned char)t[i]) && (i == 0 || is_space((unsigned char)t[i - 1])))
			words++;
		if ((t[i] == '.' || t[i] == '?' || t[i] == '!') && (i + 1 == len || is_space((unsigned char)t[i + 1])))
			sentence = 1;
	}
	return words < 5 || !sentence;
}

static int same_heading(const struct part *a, const struct part *b)
{
	return strcmp(a->sec->heading ? a->sec->heading : "", b->sec->heading ? b->sec->heading : "") == 0;
}

/* A section shorter than min characters that says little (see says_little) is no chunk of its own: it would
 * match a question's words without answering it. It is joined to an adjacent section of text on the same page
 * (so a chunk's page stays true), never to a Q/A pair: the one whose heading path shares more levels with its
 * own, the following one on a tie (a short intro belongs with what comes after it). A short section that does
 * say something ("Sick leave needs a note after three days.") joins only a neighbour under the same heading:
 * moving it under another heading would tell a reader the wrong section. */
static void merge_small(struct part *v, size_t n, size_t min)
{
	for (size_t i = 0; i < n; i++) {
		struct part *p = &v[i];
		if (p->dead || p->qa || p->chars >= min)
			continue;
		struct part *prev = NULL, *next = i + 1 < n && !v[i + 1].qa ? &v[i + 1] : NULL;
		for (size_t k = i; k-- > 0;)
			if (!v[k].dead) {
				prev = v[k].qa ? NULL : &v[k];
				break;
			}
		int little = says_little(p->text, p->len);
		if (next && (next->sec->page != p->sec->page || (!little && !same_heading(p, next))))
			next = NULL;
		if (prev && (prev->sec->page != p->sec->page || (!little && !same_heading(p, prev))))
			prev = NULL;
		if (!prev && !next)
			continue;
		if (next && (!prev || common_levels(p->sec->heading, next->sec->heading) >=
					      common_levels(p->sec->heading, prev->sec->heading)))
			merge_into(next, p, 1);
		else
			merge_into(prev, p, 0);
	}
}

int chunk_document(const struct extract_doc *doc, const struct chunk_opts *opts, struct chunk **out, size_t *n,
		   struct fs_error *e)
{
	struct chunk_opts o;
	struct chunk_list l = { 0 };

	if (opts)
		o = *opts;
	else
		chunk_opts_default(&o);
	if (!o.target_chars || !o.max_chars)
		return fs_fail(e, FS_EINVAL, "chunk sizes must be positive");
	/* Settings are checked one by one in the configuration; here they are made consistent with each other
	 * rather than failing every document over them. */
	if (o.target_chars > o.max_chars)
		o.target_chars = o.max_chars;
	if (o.overlap_chars > o.target_chars / 2)
		o.overlap_chars = o.target_chars / 2;
	if (o.min_chars > o.target_chars / 2)
		o.min_chars = o.target_chars / 2;

	struct part *v = xcalloc(doc->nsections ? doc->nsections : 1, sizeof(*v));
	size_t nv = 0;
	for (size_t i = 0; i < doc->nsections; i++) {
		const struct extract_section *sec = &doc->sections[i];
		const char *q = sec->question, *t = sec->text ? sec->text : "";
		size_t qlen = q ? strlen(q) : 0, tlen = strlen(t);
		trim(&q, &qlen);
		trim(&t, &tlen);
		if (!qlen && !tlen)
			continue;
		v[nv].sec = sec;
		v[nv].qa = qlen > 0;
		v[nv].text = xstrndup(t, tlen);
		v[nv].len = tlen;
		v[nv].chars = count_chars(t, tlen);
		nv++;
	}
	if (o.min_chars)
		merge_small(v, nv, o.min_chars);
	for (size_t i = 0; i < nv; i++) {
		if (v[i].dead)
			continue;
		struct extract_section sec = *v[i].sec;
		sec.text = v[i].text;
		const char *q = sec.question;
		size_t qlen = q ? strlen(q) : 0;
		trim(&q, &qlen);
		if (qlen)
			chunk_qa(&l, &sec, q, qlen, o.max_chars);
		else
			chunk_text(&l, &sec, &o);
	}
	for (size_t i = 0; i < nv; i++)
		free(v[i].text);
	free(v);
	*out = l.v;
	*n = l.n;
	return 0;
}

void chunk_list_free(struct chunk *chunks, size_t n)
{
	if (!chunks)
		return;
	for (size_t i = 0; i < n; i++) {
		free(chunks[i].text);
		free(chunks[i].section);
		free(chunks[i].question);
		free(chunks[i].answer);
	}
	free(chunks);
}
