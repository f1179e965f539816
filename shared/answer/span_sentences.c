/* Sentences of a passage as the built-in answerer reads them, and a span's text as an answer shows it
 * (answer_span.h: span_sentences, span_text). */
#include "answer/answer_span.h"

#include <ctype.h>
#include <string.h>

#include "core/util.h"

#include "core/banned.h"

/* A line break ends a sentence when a blank line, a list item or a table row follows. */
static int line_ends_sentence(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;
	while (j < len && (s[j] == ' ' || s[j] == '\t'))
		j++;
	if (j >= len || s[j] == '\n' || s[j] == '\r' || strchr("-*+|#>", s[j]))
		return 1;
	size_t d = j;
	while (d < len && isdigit((unsigned char)s[d]))
		d++;
	return d > j && d < len && (s[d] == '.' || s[d] == ')');
}

/* The line that ends at i (s[i] == '\n') is a heading or a label: it is the sentence's first line, short, with
 * no closing punctuation, and the next line does not go on with a lower-case word (a wrapped line does). */
static int line_is_heading(const char *s, size_t len, size_t from, size_t i)
{
	size_t b = i;
	while (b > from && s[b - 1] != '\n')
		b--;
	for (size_t k = from; k < b; k++)
		if (!isspace((unsigned char)s[k]))
			return 0; /* the sentence began on an earlier line */
	size_t e = i;
	while (e > b && isspace((unsigned char)s[e - 1]))
		e--;
	size_t n = i + 1;
	while (n < len && isspace((unsigned char)s[n]))
		n++;
	return e > b && e - b < 120 && !strchr(".!?:;,)\"'", s[e - 1]) && !(n < len && islower((unsigned char)s[n]));
}

static const char *const abbreviations[] = {
	"e.g", "i.e", "vs", "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "no", "nos", "fig", "figs", "vol",
	"pp", "approx", "inc", "ltd", "co", "corp", "dept", "cf", "al", "gen", "gov", "sen", "rep", "rev", "capt",
	"col", "lt", "sgt", "ft", "mt", "ave", "jan", "feb", "aug", "sept", "oct", "nov", "dec", "sec", "art", "ch",
	"ed", "eds", "est", "viz", "ca", "min", "max", "govt", "univ", "assn", "bros", "op", "pt", "para",
};

/* The full stop at s[i] ends an abbreviation or an initial, not a sentence. */
static int ends_abbreviation(const char *s, size_t from, size_t i)
{
	size_t b = i;
	while (b > from && (isalpha((unsigned char)s[b - 1]) || s[b - 1] == '.'))
		b--;
	size_t n = i - b;
	if (n == 0)
		return 0; /* "year ." or a number */
	if (n == 1 && isupper((unsigned char)s[b]))
		return 1; /* an initial: "J. Smith" */
	char w[16];
	if (n >= sizeof(w))
		return 0;
	for (size_t k = 0; k < n; k++)
		w[k] = (char)tolower((unsigned char)s[b + k]);
	w[n] = '\0';
	/* letters with dots between them: "U.S", "a.m", "Ph.D" */
	if (strchr(w, '.')) {
		int parts_short = 1;
		for (const char *p = w; *p;) {
			size_t l = strcspn(p, ".");
			if (l > 2)
				parts_short = 0;
			p += l + (p[l] == '.');
		}
		if (parts_short)
			return 1;
	}
	for (size_t k = 0; k < sizeof(abbreviations) / sizeof(abbreviations[0]); k++)
		if (!strcmp(w, abbreviations[k]))
			return 1;
	return 0;
}

/* The index just past the sentence that starts at i. */
static size_t sentence_end(const char *s, size_t len, size_t i)
{
	size_t from = i;
	for (; i < len; i++) {
		if (s[i] == '\n') {
			if (line_ends_sentence(s, len, i) || line_is_heading(s, len, from, i))
				return i + 1;
			continue;
		}
		if (s[i] != '.' && s[i] != '!' && s[i] != '?')
			continue;
		size_t d = i;
		while (d > from && isdigit((unsigned char)s[d - 1]))
			d--;
		if (s[i] == '.' && d < i && (d == from || s[d - 1] == '\n' || (d - from < 4 && isspace((unsigned char)s[d - 1]))))
			continue; /* a numbered step: "1." */
		size_t j = i + 1;
		while (j < len && strchr("\"')]", s[j]))
			j++;
		if (j >= len)
			return len;
		if (!isspace((unsigned char)s[j]))
			continue; /* "2.4.1", "3.5", "e.g.," */
		size_t k = j;
		while (k < len && isspace((unsigned char)s[k]))
			k++;
		if (k < len && islower((unsigned char)s[k]))
			continue; /* "e.g. this" */
		if (s[i] == '.' && ends_abbreviation(s, from, i))
			continue;
		return j;
	}
	return len;
}

size_t span_sentences(const char *text, size_t len, size_t (**out)[2])
{
	size_t n = 0, cap = 16, i = 0;
	*out = xmalloc(cap * sizeof(**out));
	while (i < len) {
		size_t end = sentence_end(text, len, i), a = i, b = end;
		while (a < b && isspace((unsigned char)text[a]))
			a++;
		while (b > a && isspace((unsigned char)text[b - 1]))
			b--;
		if (b > a) {
			if (n == cap)
				*out = xrealloc(*out, (cap *= 2) * sizeof(**out));
			(*out)[n][0] = a;
			(*out)[n][1] = b;
			n++;
		}
		i = end;
	}
	return n;
}

void span_text(struct buf *out, const char *text, size_t start, size_t end)
{
	size_t i = start;
	while (i < end) {
		if (!isspace((unsigned char)text[i])) {
			buf_add(out, text + i, 1);
			i++;
			continue;
		}
		size_t j = i, newlines = 0, first_nl = end;
		for (; j < end && isspace((unsigned char)text[j]); j++)
			if (text[j] == '\n' && newlines++ == 0)
				first_nl = j;
		if (newlines >= 2)
			buf_adds(out, "\n\n");
		else if (newlines == 1 && line_ends_sentence(text, end, first_nl))
			buf_adds(out, "\n");
		else
			buf_adds(out, " ");
		i = j;
	}
}
