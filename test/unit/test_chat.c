/* The built-in answerer (verbatim sentences, Q/A answers, headings and numbered steps, fallback, tokens,
 * streaming) and the chat's follow-up detection. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "answer/answer.h"
#include "answer/answer_span.h"
#include "chat/chat.h"
#include "check.h"
#include "embed/embed.h"
#include "embed/use_lite.h"
#include "text/tokens.h"

/* The defaults, with the sentence model the build made (FAQSURE_SENTENCE_MODEL, as test/run.sh sets it). */
static const struct config *test_config(void)
{
	static struct config cfg;
	static int ready;
	if (!ready) {
		config_init(&cfg);
		const char *model = getenv("FAQSURE_SENTENCE_MODEL");
		free(cfg.answerer_sentence_model);
		cfg.answerer_sentence_model = xstrdup(model ? model : "build/model/" USE_MODEL_FILE);
		ready = 1;
	}
	return &cfg;
}

static struct search_result source(const char *text, const char *question)
{
	struct search_result r;
	memset(&r, 0, sizeof(r));
	r.text = (char *)text;
	r.filename = (char *)"doc.txt";
	r.metadata = question ? json_pack("{s:s}", "question", question) : json_object();
	r.score = 0.9;
	return r;
}

struct collected {
	struct buf text;
	int calls;
};

static int collect(void *arg, const char *text, size_t len)
{
	struct collected *c = arg;
	buf_add(&c->text, text, len);
	c->calls++;
	return 0;
}

/* Answers question from the one passage text (a Q/A passage when qa is set) with the threshold th into out
 * (caller frees). */
static int answer_th(const char *question, const char *text, const char *qa, int use_rag, double th, char **out,
		     struct answer_output *o, struct collected *deltas)
{
	struct answerer *a;
	struct fs_error e;
	struct search_result src = source(text, qa);
	struct answer_input in = { .question = question, .sources = &src, .nsources = 1,
				   .use_rag = use_rag, .threshold = th };
	CHECK_INT(answerer_new(test_config(), "builtin", &a, &e), 0);
	answer_output_init(o);
	int rc = answerer_answer(a, &in, deltas ? collect : NULL, deltas, o, &e);
	*out = xstrdup(buf_str(&o->text));
	answerer_free(a);
	json_decref(src.metadata);
	return rc;
}

static int answer(const char *question, const char *text, const char *qa, int use_rag, char **out,
		  struct answer_output *o, struct collected *deltas)
{
	return answer_th(question, text, qa, use_rag, 0, out, o, deltas);
}

static const char RETURNS[] =
	"Returns and refunds\n\nYou can return most items within 30 days of delivery for a full refund. Items must "
	"be unused and in their\noriginal packaging, with the receipt or the order number.\n\nRefunds go back to the "
	"original payment method within 5 to 7 business days after our warehouse receives the\nparcel. Sale items, "
	"opened software and gift cards cannot be returned.\n";

static void chat_builtin_picks_the_sentence_that_answers(void)
{
	struct answer_output o;
	char *text;
	CHECK_INT(answer("When do refunds reach my payment method?", RETURNS, NULL, 1, &text, &o, NULL), 0);
	/* whole sentences, the answering one among them, the wrapped line joined, never the heading */
	CHECK_CONTAINS(text, "Refunds go back to the original payment method within 5 to 7 business days after our "
			     "warehouse receives the parcel.");
	CHECK(strncmp(text, "Returns and refunds", 19) != 0);
	CHECK(strlen(text) <= 800);
	CHECK(o.confidence > 0 && o.confidence < 1);
	CHECK_INT(o.cannot_answer, 0);
	CHECK_INT(o.tokens_from_upstream, 0);
	CHECK_INT(o.tokens_completion, tokens_count(text));
	CHECK_INT(o.tokens_prompt, tokens_count("When do refunds reach my payment method?") +
					   tokens_count(RETURNS));
	free(text);
	answer_output_release(&o);
}

static void chat_builtin_skips_headings_and_widens_short_answers(void)
{
	struct answer_output o;
	char *text;
	CHECK_INT(answer("Can I return things?", RETURNS, NULL, 1, &text, &o, NULL), 0);
	/* "Returns and refunds" is a heading, never part of an answer */
	CHECK_CONTAINS(text, "You can return most items within 30 days of delivery for a full refund.");
	CHECK(strstr(text, "Returns and refunds") == NULL);
	free(text);
	answer_output_release(&o);
}

static void chat_builtin_keeps_numbered_steps_together(void)
{
	struct answer_output o;
	char *text;
	const char *help = "To reset your password: 1. Click Forgot Password on the sign-in page. 2. Enter the email "
			   "address you registered\nwith. 3. Open the link in the email.\n\nTwo-factor authentication "
			   "is under Security.";
	CHECK_INT(answer("How do I reset my password?", help, NULL, 1, &text, &o, NULL), 0);
	CHECK_CONTAINS(text, "To reset your password: 1. Click Forgot Password on the sign-in page. 2. Enter the email "
			     "address you registered with. 3. Open the link in the email.");
	free(text);
	answer_output_release(&o);
}

static void chat_builtin_qa_passage_answers_with_its_answer(void)
{
	struct answer_output o;
	char *text;
	CHECK_INT(answer("is gift wrapping free?", "Q: Do you offer gift wrapping?\nA: Yes, it costs 3 dollars.",
			 "Do you offer gift wrapping?", 1, &text, &o, NULL),
		  0);
	CHECK_STR(text, "Yes, it costs 3 dollars.");
	free(text);
	answer_output_release(&o);
	/* the same text without the Q/A mark is an ordinary passage */
	CHECK_INT(answer("is gift wrapping free?", "Q: Do you offer gift wrapping?\nA: Yes, it costs 3 dollars.", NULL,
			 1, &text, &o, NULL),
		  0);
	CHECK_CONTAINS(text, "gift wrapping");
	free(text);
	answer_output_release(&o);
}

/* Answers with the threshold th into *o; returns the text (caller frees). */
static char *answer_at(const char *question, const char *text, double th, struct answer_output *o)
{
	char *out;
	CHECK_INT(answer_th(question, text, NULL, 1, th, &out, o, NULL), 0);
	return out;
}

static void chat_builtin_falls_back_under_the_threshold(void)
{
	struct answer_output o;
	char *text = answer_at("When do refunds reach my payment method?", RETURNS, 0, &o);
	double confidence = o.confidence;
	CHECK_INT(o.cannot_answer, 0);
	free(text);
	answer_output_release(&o);
	/* the same answer with a threshold over its confidence: nothing is said, the confidence is kept */
	text = answer_at("When do refunds reach my payment method?", RETURNS, confidence + 0.001, &o);
	CHECK_INT(o.cannot_answer, 1);
	CHECK_STR(text, "");
	CHECK(o.confidence == confidence);
	free(text);
	answer_output_release(&o);
}

/* A chunk that starts inside a sentence (the overlap of chunking) never gives that fragment: it lost the words
 * before it, such as a "Do not". */
static void chat_builtin_never_answers_with_a_fragment(void)
{
	struct answer_output o;
	char *text = answer_at("Should passwords be changed periodically?",
			       "(e.g., periodically) unless there is a user request or evidence of compromise.\n\n"
			       "Passwords should be at least 8 characters long. Users should be allowed to paste "
			       "passwords.",
			       0, &o);
	CHECK(strstr(text, "(e.g.") == NULL);
	CHECK(strstr(text, "unless there is") == NULL);
	free(text);
	answer_output_release(&o);
}

static void chat_sentences_are_split_around_abbreviations(void)
{
	const char *t = "Do not require that secrets be changed arbitrarily (e.g., periodically) unless there is "
			"evidence. The U.S. Army has No. 5 units led by Dr. Smith and J. R. Tolkien, i.e. two men. "
			"Version 2.4.1 costs 3.5 dollars!\nReturns\nItems go back within 30 days. Done?";
	size_t(*s)[2];
	size_t n = span_sentences(t, strlen(t), &s);
	CHECK_INT(n, 6);
	if (n == 6) {
		CHECK_INT(strncmp(t + s[0][0], "Do not", 6), 0);
		CHECK_INT(t[s[0][1] - 1], '.');
		CHECK_INT(strncmp(t + s[1][0], "The U.S. Army", 13), 0);
		CHECK_INT(strncmp(t + s[2][0], "Version 2.4.1", 13), 0);
		CHECK_INT(strncmp(t + s[3][0], "Returns", 7), 0);
		CHECK_INT((int)(s[3][1] - s[3][0]), 7);
		CHECK_INT(strncmp(t + s[4][0], "Items go back", 13), 0);
	}
	free(s);
}

static void chat_builtin_never_answers_without_sources(void)
{
	struct answer_output o;
	char *text;
	CHECK_INT(answer("How do I reset my password?", RETURNS, NULL, 0, &text, &o, NULL), 0);
	CHECK_INT(o.cannot_answer, 1);
	CHECK_STR(text, "");
	free(text);
	answer_output_release(&o);
}

static void chat_builtin_streams_the_same_text(void)
{
	struct answer_output o;
	struct collected c = { .calls = 0 };
	char *text;
	buf_init(&c.text, BUF_NO_LIMIT);
	CHECK_INT(answer("Can I return things?", RETURNS, NULL, 1, &text, &o, &c), 0);
	CHECK_STR(buf_str(&c.text), text);
	CHECK(c.calls > 2);
	buf_release(&c.text);
	free(text);
	answer_output_release(&o);
}

/* The sentence vectors a chunk keeps (span_passage_vectors, as the worker stores them) give the answer and the
 * confidence that computing them at question time gives; vectors of other sentences (the text changed) are not
 * used. */
static void chat_builtin_stored_sentence_vectors_agree(void)
{
	struct span_finder *sf;
	struct fs_error e;
	const char *text = "Leave\nYou are entitled to 12 weeks of paid time off for the birth or adoption of a child. "
			   "You can request leave without pay of less than four weeks at any time.\n\n"
			   "Jury duty is court leave and does not count against your other leave balances.";
	const char *q = "How many weeks of paid parental leave do I get?";
	CHECK_INT(span_finder_new(&sf, test_config()->answerer_sentence_model, &e), 0);
	struct search_result src = source(text, NULL);
	struct span_result fresh, kept, other;
	span_find(sf, q, &src, 1, NULL, NULL, &fresh);
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	span_passage_vectors(sf, text, src.metadata, &b);
	CHECK(b.len > 6);
	src.sentences = (unsigned char *)b.ptr;
	src.sentences_len = b.len;
	span_find(sf, q, &src, 1, NULL, NULL, &kept);
	CHECK(fresh.found && kept.found);
	CHECK_INT(kept.best.start, fresh.best.start);
	CHECK_INT(kept.best.end, fresh.best.end);
	CHECK(fabs(kept.confidence - fresh.confidence) < 0.01);
	CHECK(fabs(kept.best.f[SF_SEM_BEST] - fresh.best.f[SF_SEM_BEST]) < 0.01);
	/* the same vectors under a text whose sentences are elsewhere: ignored, computed again */
	struct search_result moved = source("Intro line that is new.\n\nYou are entitled to 12 weeks of paid time off. "
					    "Jury duty is court leave.", NULL);
	moved.sentences = src.sentences;
	moved.sentences_len = src.sentences_len;
	span_find(sf, q, &moved, 1, NULL, NULL, &other);
	moved.sentences = NULL;
	struct span_result other_fresh;
	span_find(sf, q, &moved, 1, NULL, NULL, &other_fresh);
	CHECK(fabs(other.confidence - other_fresh.confidence) < 1e-9);
	buf_release(&b);
	json_decref(src.metadata);
	json_decref(moved.metadata);
	span_finder_free(sf);
}

struct span_seen {
	const char *text;
	int meta_first, meta_other, steps_how, steps_none;
	int procedure;
};

static void see_candidate(void *arg, const struct span_pick *c)
{
	struct span_seen *s = arg;
	int from_meta = !strncmp(s->text + c->start, "This page outlines", 18);
	if (c->f[SF_META] != 0)
		from_meta ? s->meta_first++ : s->meta_other++;
	else if (from_meta)
		s->meta_other += 100; /* a meta sentence not seen as one */
	const char *click = strstr(s->text + c->start, "- Click"), *fill = strstr(s->text + c->start, "- Fill");
	int lists = click && fill && (size_t)(fill - s->text) < c->end; /* two items of the list */
	if (c->f[SF_STEPS] != 0)
		s->steps_how += lists && s->procedure ? 1 : 1000;
	else if (lists && s->procedure)
		s->steps_none++;
}

/* The structure features: a sentence about the document itself ("This page outlines…") is marked as such, and
 * steps count for a question that asks how to do something, not for one that asks what something is. */
static void chat_builtin_span_structure_features(void)
{
	struct span_finder *sf;
	struct fs_error e;
	const char *text = "This page outlines how to sign up for and how to cancel the transit subsidy.\n\n"
			   "To cancel your subsidy:\n\n- Go to the transit site and log in to your account.\n"
			   "- Click Withdraw from the program.\n- Fill out and submit the form.";
	CHECK_INT(span_finder_new(&sf, test_config()->answerer_sentence_model, &e), 0);
	struct search_result src = source(text, NULL);
	struct span_result r;
	struct span_seen how = { .text = text, .procedure = 1 }, what = { .text = text, .procedure = 0 };
	span_find(sf, "How do I cancel my transit subsidy?", &src, 1, see_candidate, &how, &r);
	CHECK(how.meta_first > 0);
	CHECK_INT(how.meta_other, 0);
	CHECK(how.steps_how > 0 && how.steps_how < 1000);
	CHECK_INT(how.steps_none, 0);
	span_find(sf, "What is the transit subsidy?", &src, 1, see_candidate, &what, &r);
	CHECK_INT(what.steps_how, 0);
	json_decref(src.metadata);
	span_finder_free(sf);
}

struct heading_seen {
	double f[3];
	int seen[3];
};

static void see_heading(void *arg, const struct span_pick *c)
{
	struct heading_seen *h = arg;
	if (h->seen[c->source]++ && h->f[c->source] != c->f[SF_HEADING])
		h->f[c->source] = 99; /* every candidate of a passage has its passage's value */
	else
		h->f[c->source] = c->f[SF_HEADING];
}

/* Heading agreement: 0 for the passage whose heading (the last level of its section, or an FAQ's question) asks
 * what the question asks, below 0 for the others, as low as the best for a passage without a heading. */
static void chat_builtin_heading_agreement(void)
{
	struct span_finder *sf;
	struct fs_error e;
	CHECK_INT(span_finder_new(&sf, test_config()->answerer_sentence_model, &e), 0);
	struct search_result src[3] = {
		source("You can book flights through the travel agent at least two weeks ahead.", NULL),
		source("You are entitled to 12 weeks of paid time off for the birth or adoption of a child.", NULL),
		source("Weeks are counted from the first day of the leave.", NULL),
	};
	json_object_set_new(src[0].metadata, "section", json_string("Handbook > Travel > Booking flights"));
	json_object_set_new(src[1].metadata, "section", json_string("Handbook > Leave > Paid parental leave"));
	struct heading_seen h = { { 0 }, { 0 } };
	struct span_result r;
	span_find(sf, "How many weeks of paid parental leave do I get?", src, 3, see_heading, &h, &r);
	CHECK(h.seen[0] && h.seen[1] && h.seen[2]);
	CHECK(h.f[1] == 0);
	CHECK(h.f[0] < -0.1 && h.f[0] > -2);
	CHECK(h.f[2] < h.f[0]); /* no heading: the best's agreement below */
	/* the heading's vector kept with the chunk's sentence vectors gives the same; kept for another heading (the
	 * section was renamed), it is not used */
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	span_passage_vectors(sf, src[1].text, src[1].metadata, &b);
	src[1].sentences = (unsigned char *)b.ptr;
	src[1].sentences_len = b.len;
	struct heading_seen kept = { { 0 }, { 0 } };
	span_find(sf, "How many weeks of paid parental leave do I get?", src, 3, see_heading, &kept, &r);
	CHECK(fabs(kept.f[0] - h.f[0]) < 0.02 && fabs(kept.f[2] - h.f[2]) < 0.02);
	json_object_set_new(src[1].metadata, "section", json_string("Handbook > Travel > Booking flights"));
	struct heading_seen renamed = { { 0 }, { 0 } }, fresh = { { 0 }, { 0 } };
	span_find(sf, "How many weeks of paid parental leave do I get?", src, 3, see_heading, &renamed, &r);
	src[1].sentences = NULL;
	span_find(sf, "How many weeks of paid parental leave do I get?", src, 3, see_heading, &fresh, &r);
	CHECK(fabs(renamed.f[2] - fresh.f[2]) < 1e-9);
	CHECK(fabs(renamed.f[2] - h.f[2]) > 0.02);
	buf_release(&b);
	for (int i = 0; i < 3; i++)
		json_decref(src[i].metadata);
	span_finder_free(sf);
}

/* A missing sentence model is the server's fault, said with its path: never a client error, never a silent
 * answer without the meaning features. */
static void chat_builtin_without_its_model_is_a_server_error(void)
{
	struct config cfg;
	struct answerer *a = NULL;
	struct fs_error e;
	config_init(&cfg);
	free(cfg.answerer_sentence_model);
	cfg.answerer_sentence_model = xstrdup("/nonexistent/use-lite.bin");
	CHECK_INT(answerer_new(&cfg, "builtin", &a, &e), FS_EINTERNAL);
	CHECK_CONTAINS(e.msg, "/nonexistent/use-lite.bin");
	CHECK_CONTAINS(e.msg, "sentence_model");
	CHECK(a == NULL);
	config_release(&cfg);
}

static void chat_followup_detection(void)
{
	CHECK_INT(chat_is_followup("How long does that take?"), 1);
	CHECK_INT(chat_is_followup("and for express?"), 1);
	CHECK_INT(chat_is_followup("What about international orders?"), 1);
	CHECK_INT(chat_is_followup("Can I return them?"), 1);
	CHECK_INT(chat_is_followup("Costs?"), 1);
	CHECK_INT(chat_is_followup("What is your return policy?"), 0);
	CHECK_INT(chat_is_followup("How much does express shipping cost?"), 0);
	CHECK_INT(chat_is_followup("Do you ship to Canada and Mexico?"), 0);
}

/* The balance sets aside cost_bound before the answer (account.h): no answer may cost more than it, whatever span
 * the answerer reads, and a passage's wrapped lines, Q/A answers and punctuation change nothing. */
static void chat_builtin_cost_bound_covers_the_answer(void)
{
	static const struct {
		const char *question, *text, *qa;
	} cases[] = {
		{ "When do refunds reach my payment method?", RETURNS, NULL },
		{ "Can I return things?", RETURNS, NULL },
		{ "is gift wrapping free?", "Q: Do you offer gift wrapping?\nA: Yes, it costs 3 dollars.", NULL },
		{ "How do I reset my password?",
		  "To reset your password: 1. Click Forgot Password on the sign-in page. 2. Enter the e-mail\naddress "
		  "(e.g. ann@example.com) you registered with... 3. Open the link!!",
		  NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct answerer *a;
		struct fs_error e;
		struct answer_output o;
		struct search_result src = source(cases[i].text, cases[i].qa);
		struct answer_input in = { .question = cases[i].question, .sources = &src, .nsources = 1, .use_rag = 1 };
		CHECK_INT(answerer_new(test_config(), "builtin", &a, &e), 0);
		answer_output_init(&o);
		CHECK_INT(answerer_answer(a, &in, NULL, NULL, &o, &e), 0);
		long long bound = answerer_cost_bound(a, &in), cost = o.tokens_prompt + o.tokens_completion;
		if (cost > bound)
			printf("    case %zu: the answer cost %lld tokens, the bound is %lld\n", i, cost, bound);
		CHECK(cost > 0 && cost <= bound);
		answer_output_release(&o);
		answerer_free(a);
		json_decref(src.metadata);
	}
}

const struct test_case chat_cases[] = {
	{ "chat_builtin_cost_bound_covers_the_answer", chat_builtin_cost_bound_covers_the_answer },
	{ "chat_builtin_picks_the_sentence_that_answers", chat_builtin_picks_the_sentence_that_answers },
	{ "chat_builtin_skips_headings_and_widens_short_answers", chat_builtin_skips_headings_and_widens_short_answers },
	{ "chat_builtin_keeps_numbered_steps_together", chat_builtin_keeps_numbered_steps_together },
	{ "chat_builtin_qa_passage_answers_with_its_answer", chat_builtin_qa_passage_answers_with_its_answer },
	{ "chat_builtin_never_answers_without_sources", chat_builtin_never_answers_without_sources },
	{ "chat_builtin_falls_back_under_the_threshold", chat_builtin_falls_back_under_the_threshold },
	{ "chat_builtin_never_answers_with_a_fragment", chat_builtin_never_answers_with_a_fragment },
	{ "chat_sentences_are_split_around_abbreviations", chat_sentences_are_split_around_abbreviations },
	{ "chat_builtin_streams_the_same_text", chat_builtin_streams_the_same_text },
	{ "chat_builtin_stored_sentence_vectors_agree", chat_builtin_stored_sentence_vectors_agree },
	{ "chat_builtin_span_structure_features", chat_builtin_span_structure_features },
	{ "chat_builtin_heading_agreement", chat_builtin_heading_agreement },
	{ "chat_builtin_without_its_model_is_a_server_error", chat_builtin_without_its_model_is_a_server_error },
	{ "chat_followup_detection", chat_followup_detection },
	{ NULL, NULL },
};
