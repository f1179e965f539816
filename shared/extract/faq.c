/* Question and answer pairs written inline in running text, as FAQ documents, handbooks and Word or PDF files
 * write them when they have no table or sheet for it:
 *
 *     2. Question – Should Agile software development be used to address all IT needs?
 *     Answer – No. Agile software development is intended for activities that require …
 *
 * (also "Q: … / A: …", "Question: … / Answer: …", and a stray footnote or page number before "Answer", as PDF
 * text has it). The pair becomes a Q/A section, so that search can match the question and an answer is never
 * the question itself. */
#include "internal.h"

#include <string.h>

#include "core/banned.h"

/* The marker "Question"/"Answer" (or "Q"/"A", or all capitals) at s[i] and its separator (":", "–", "—" or
 * " -"): the index just past the separator and the spaces after it, else 0. lead_number lets a number come
 * first ("2. Question", "3 Answer"). */
static size_t marker_at(const char *s, size_t len, size_t i, const char *word, int lead_number)
{
	if (lead_number) {
		size_t d = i;
		while (d < len && d - i < 4 && s[d] >= '0' && s[d] <= '9')
			d++;
		if (d > i && d < len && (s[d] == '.' || s[d] == ')'))
			d++;
		if (d > i && d < len && s[d] == ' ')
			i = d + 1;
	}
	size_t wl = strlen(word), n = 0;
	if (i + wl <= len && (!strncmp(s + i, word, wl) || !strncasecmp(s + i, word, wl))) {
		/* "Question" or "QUESTION", not "question" in mid-sentence use */
		int caps = 1;
		for (size_t k = 0; k < wl; k++)
			caps &= s[i + k] >= 'A' && s[i + k] <= 'Z';
		if (!strncmp(s + i, word, wl) || caps)
			n = wl;
	}
	if (!n && i < len && s[i] == word[0])
		n = 1; /* "Q", "A" */
	if (!n)
		return 0;
	i += n;
	while (i < len && s[i] == ' ')
		i++;
	if (i < len && s[i] == ':')
		i++;
	else if (i + 2 < len && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
		 ((unsigned char)s[i + 2] == 0x93 || (unsigned char)s[i + 2] == 0x94))
		i += 3; /* en or em dash */
	else if (i > 0 && s[i - 1] == ' ' && i < len && s[i] == '-')
		i++;
	else
		return 0;
	if (i >= len || s[i] != ' ')
		return 0;
	while (i < len && s[i] == ' ')
		i++;
	return i < len && s[i] != '\n' ? i : 0;
}

static size_t line_end(const char *s, size_t len, size_t i)
{
	const char *nl = memchr(s + i, '\n', len - i);
	return nl ? (size_t)(nl - s) : len;
}

#define FAQ_QUESTION_CHARS 1000
#define FAQ_ANSWER_CHARS 1000

/* The end of the paragraph that holds i: its blank line, a line that starts a question, or the text's end. */
static size_t para_end(const char *s, size_t len, size_t i)
{
	for (size_t e = line_end(s, len, i);; e = line_end(s, len, e + 1)) {
		if (e >= len)
			return len;
		if (e + 1 < len && s[e + 1] == '\n')
			return e;
		if (marker_at(s, len, e + 1, "Question", 1))
			return e;
	}
}

int faq_find(const char *s, size_t len, size_t from, struct faq_pair *p)
{
	for (size_t i = from; i < len; i = line_end(s, len, i) + 1) {
		if (i > 0 && s[i - 1] != '\n')
			continue;
		size_t qt = marker_at(s, len, i, "Question", 1);
		if (!qt)
			continue;
		/* the answer marker starts a later line, before another question and within FAQ_QUESTION_CHARS */
		size_t a = line_end(s, len, qt), at = 0;
		while (a < len) {
			while (a < len && s[a] == '\n')
				a++;
			if (a >= len || a - qt > FAQ_QUESTION_CHARS || marker_at(s, len, a, "Question", 1))
				break;
			if ((at = marker_at(s, len, a, "Answer", 1)) != 0)
				break;
			a = line_end(s, len, a);
		}
		if (!at)
			continue;
		/* the answer's paragraph, then whole paragraphs while it stays under FAQ_ANSWER_CHARS */
		size_t end = para_end(s, len, at);
		for (;;) {
			size_t next = end;
			while (next < len && s[next] == '\n')
				next++;
			if (next >= len || marker_at(s, len, next, "Question", 1))
				break;
			size_t ne = para_end(s, len, next);
			if (ne - at > FAQ_ANSWER_CHARS)
				break;
			end = ne;
		}
		p->start = i;
		p->q = qt;
		p->q_end = a;
		p->a = at;
		p->end = end;
		return 1;
	}
	return 0;
}
