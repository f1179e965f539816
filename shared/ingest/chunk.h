/* Chunking: cuts an extracted document into the pieces that are embedded and retrieved. It follows the
 * document's structure — a chunk never spans two sections, a Q/A pair is one chunk — and bounds each chunk's
 * size, cutting long sections at paragraph, then sentence, then word boundaries with an overlap between
 * neighbouring pieces of the same section. */
#ifndef FAQSURE_CHUNK_H
#define FAQSURE_CHUNK_H

#include <stddef.h>

#include "extract/extract.h"

/* Sizes count Unicode characters (UTF-8 code points), not bytes; no cut ever falls inside a character.
 * chunk_document makes the three consistent instead of failing: target is at most max, overlap at most half of
 * target, min at most half of target. */
struct chunk_opts {
	size_t target_chars;  /* aim for chunks about this long (default 1000) */
	size_t max_chars;     /* never longer (default 1500; a single word longer than this is cut) */
	size_t overlap_chars; /* text repeated from the end of the previous piece of the same section (default 150) */
	size_t min_chars;     /* a section of text shorter than this may join a neighbouring one (default 200;
			       * 0 = never; at most half of target) */
};

void chunk_opts_default(struct chunk_opts *o);

struct chunk {
	char *text;     /* what is embedded and returned to users; for a Q/A pair "Q: …\nA: …" */
	char *section;  /* heading path, "" when none (becomes metadata.section) */
	int page;       /* 0 when none (becomes metadata.page) */
	char *question; /* a Q/A chunk's question, else NULL */
	char *answer;   /* a Q/A chunk's answer, else NULL */
};

/* Chunks doc; *out is a malloc'd array of *n chunks (free with chunk_list_free). Empty sections give none. A
 * section of text under min_chars that says little (under five words, or no sentence) is joined to an adjacent
 * section of text on the same page (the one sharing more of its heading path, else the next); one that does say
 * something only to a neighbour under the same heading. The result keeps the heading of the bigger one; Q/A
 * pairs are never joined.
 * opts may be NULL (the defaults). A section with a non-empty question is exactly one "Q: …\nA: …" chunk; when
 * that would exceed max_chars the answer is cut at a word boundary to fit (answer holds the part kept). Texts
 * are trimmed. Fails (FS_EINVAL) only for zero sizes. */
int chunk_document(const struct extract_doc *doc, const struct chunk_opts *opts, struct chunk **out, size_t *n,
		   struct fs_error *e);
void chunk_list_free(struct chunk *chunks, size_t n);

#endif
