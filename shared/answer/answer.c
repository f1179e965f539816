/* The answerer registry (name → ops) and the thin wrappers that dispatch to a backend. */
#include "answer/answer.h"

#include <string.h>

#include "core/registry.h"
#include "core/banned.h"

static const void *const backends[ANSWER_BACKENDS] = {
	&answer_builtin_ops,
	&answer_openai_ops,
};

const struct answer_ops *answer_find(const char *name)
{
	return registry_find(backends, ANSWER_BACKENDS, name);
}

int answer_index(const char *name)
{
	return registry_index(backends, ANSWER_BACKENDS, name);
}

int answer_unknown(const char *what, const char *name, struct fs_error *e)
{
	return registry_unknown(backends, ANSWER_BACKENDS, what, name, e);
}

int answerer_new(const struct config *cfg, const char *name, struct answerer **out, struct fs_error *e)
{
	const struct answer_ops *ops = answer_find(name);
	*out = NULL;
	if (!ops)
		return answer_unknown("answerer", name, e);
	return ops->new(cfg, out, e);
}

void answerer_free(struct answerer *a)
{
	if (a)
		a->ops->free(a);
}

int answerer_answer(struct answerer *a, const struct answer_input *in, answer_delta_fn delta, void *arg,
		    struct answer_output *out, struct fs_error *e)
{
	return a->ops->answer(a, in, delta, arg, out, e);
}

long long answerer_cost_bound(struct answerer *a, const struct answer_input *in)
{
	return a->ops->cost_bound(a, in);
}

void answer_output_init(struct answer_output *o)
{
	memset(o, 0, sizeof(*o));
	buf_init(&o->text, 1 << 20);
}

void answer_output_release(struct answer_output *o)
{
	buf_release(&o->text);
}
