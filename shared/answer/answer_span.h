/* Answer spans: which run of whole sentences of the retrieved passages answers a question, and how likely that
 * answer is to be right. The built-in answerer's core, on its own so that the tuning tool can see every
 * candidate.
 *
 * Candidates are runs of 1 to SPAN_MAX_SENTENCES consecutive sentences of one passage, at most SPAN_MAX_CHARS
 * characters, never starting on a heading, never holding the sentence fragment a chunk starts or ends with (so a
 * condition or a negation is never cut from its sentence); a Q/A passage offers its answer, never its question.
 * Each candidate gets features (span_feature) and a probability of being a right answer from a logistic model
 * fitted on the dev half of the answer-level evaluation sets (test/tune/answer_fit.py, README "How confidence is
 * computed"); the best candidate is the answer, and its confidence is that probability recalibrated against the
 * answers actually given (a second logistic fit over the best candidate's score and its margin over the best
 * candidate of another passage). */
#ifndef FAQSURE_ANSWER_SPAN_H
#define FAQSURE_ANSWER_SPAN_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "search/search.h"

#define SPAN_MAX_SENTENCES 6
#define SPAN_MAX_CHARS 800
#define SPAN_MAX_PASSAGES 5

enum span_feature {
	SF_BIAS,
	SF_SCORE,        /* the passage's similarity_score */
	SF_TOP,          /* 1 for search's first passage */
	SF_GAP,          /* the passage's score minus the best score of the other passages */
	SF_QCOV,         /* share of the question's distinct terms the span holds (for an FAQ's answer, with its
			    question) */
	SF_QCOV_PASSAGE, /* ... that the passage with its section heading holds */
	SF_QCOV_BEST,    /* ... that the span's best single sentence holds */
	SF_TYPE_MATCH,   /* the question asks for a kind of thing (a number, a date, a name) and the span has one */
	SF_TYPE_MISS,    /* it asks for one and the span has none */
	SF_NOVELTY,      /* share of the span's words that are not the question's: an echo of the question has few */
	SF_LENGTH,       /* characters / the most the passage could give (its text a span may hold, at most
			    SPAN_MAX_CHARS): 1 for a whole short passage or FAQ answer */
	SF_SENTENCES,    /* sentences / SPAN_MAX_SENTENCES */
	SF_QUESTIONS,    /* 1 when the span holds a question mark (a list of questions, the question itself) */
	SF_QA,           /* 1 for the answer of a Q/A passage */
	SF_LEAD,         /* 1 when the span starts the passage */
	SF_FOCUS,        /* share of the question's terms missing from the passage's heading that the span holds */
	SF_RARE,         /* share of the question's terms the span holds, each weighted by how few of the passages
			    hold it (log((n + 1) / (df + 0.5))): the specific words, not the topic's */
	SF_SEM_SPAN,     /* agreement in meaning: cosine of the question's sentence vector (use_lite.h) with the
			    span's (the mean of its sentences') */
	SF_SEM_BEST,     /* ... the best cosine of one of the span's sentences */
	SF_SEM_PASSAGE,  /* ... the cosine with the whole passage's (the mean of all its sentences') */
	SF_META,         /* 1 when the span's first sentence speaks of the text itself ("This page outlines…",
			    "See above…"): a description of a document, not what it says */
	SF_STEPS,        /* the question asks how to do something and the span holds steps (two list items or
			    numbered steps, or a command line) */
	SF_HEADING,      /* agreement in meaning of the question with the passage's heading (an FAQ's question, else
			    the last level of its section heading; 0 without one) less the best of the passages':
			    0 for the passage whose heading asks what the question asks */
	SPAN_NFEATURES
};

extern const char *const span_feature_names[SPAN_NFEATURES];

struct span_pick {
	size_t source;     /* index of the passage */
	size_t start, end; /* [start, end) of its text, whole sentences, trimmed */
	double z;          /* the model's log-odds that the span is a right answer */
	double f[SPAN_NFEATURES];
};

struct span_result {
	int found;           /* 0: no passage offered a candidate */
	struct span_pick best;
	double margin;       /* best.z minus the best z of another passage's candidates (SPAN_NO_RIVAL without) */
	double confidence;   /* calibrated probability that the answer is right, in [0, 1] */
};

#define SPAN_NO_RIVAL 8.0

struct span_finder;

/* model_path: the sentence model file (use_lite.h; [answerer] sentence_model). Its absence is an error, never a
 * silent loss of the meaning features: FS_EINTERNAL with the path in the message. */
int span_finder_new(struct span_finder **out, const char *model_path, struct fs_error *e);
void span_finder_free(struct span_finder *sf);

/* The version of the stored sentence vectors (chunks.sentences_version holds the version a chunk's vectors are of):
 * raise it whenever the sentence model (USE_MAGIC), span_sentences or span_text change, and the worker computes
 * every chunk's vectors again. Version 2 keeps the heading's vector too. */
#define SPAN_VECTORS_VERSION 2

/* Appends to out the sentence vectors of a passage (text and metadata as its chunk keeps them), for the chunk's
 * `sentences` column: the sentences exactly as the finder reads them, and its heading's (SF_HEADING), so that a
 * chat reads the vectors instead of computing them. A passage stored without them (or with others) still works, at the price of computing them at
 * question time. */
void span_passage_vectors(struct span_finder *sf, const char *text, const json_t *metadata, struct buf *out);

/* Called for every candidate (for tuning); may be NULL. */
typedef void (*span_each_fn)(void *arg, const struct span_pick *c);

/* Finds the best span of the first min(n, SPAN_MAX_PASSAGES) passages (best first) for question. */
void span_find(struct span_finder *sf, const char *question, const struct search_result *src, size_t n,
	       span_each_fn each, void *arg, struct span_result *out);

/* The sentences of text as [start, end) pairs into *out (malloc'd; free it); returns how many. A sentence ends at
 * . ! ? followed by white space and not a lower-case letter, unless the full stop ends an abbreviation ("e.g.",
 * "U.S.", "Dr.", "No. 5"), an initial ("J. Smith") or a step number ("1."); or at a line break before a blank
 * line, a list item, a table row or after a heading. Decimals and versions ("2.4.1") never end one. */
size_t span_sentences(const char *text, size_t len, size_t (**out)[2]);

/* Adds text[start, end) to out as an answer shows it: the line breaks of wrapped paragraphs become spaces, a
 * paragraph break or a list's line break stays; no word is changed. */
void span_text(struct buf *out, const char *text, size_t start, size_t end);

#endif
