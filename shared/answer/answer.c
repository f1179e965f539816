/* The answerer registry (name → ops) and the thin wrappers that dispatch to a backend. */
#include "answer/answer.h"

#include <string.h>

#include "core/banned.h"

static const struct answer_ops *const backends[] = {
	&answer_builtin_ops,
	&answer_openai_ops,
};

#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

const struct answer_ops *answer_find(const char *name)
{
	for (size_t i = 0; name && i < NBACKENDS; i++)
		if (strcmp(name, backends[i]->name) == 0)
			return backends[i];
	return NULL;
}

int answerer_open(const char *name, const struct config *cfg, struct answerer **out, struct fs_error *e)
{
	const struct answer_ops *ops = answer_find(name);
	*out = NULL;
	if (!ops)
		return fs_fail(e, FS_EINVAL, "unknown answerer '%s' (known: builtin, openai)", name ? name : "");
	return ops->open(out, cfg, e);
}

void answerer_close(struct answerer *a)
{
	if (a)
		a->ops->close(a);
}

int answerer_answer(struct answerer *a, const struct answer_input *in, answer_delta_fn delta, void *arg,
		    struct answer_output *out, struct fs_error *e)
{
	return a->ops->answer(a, in, delta, arg, out, e);
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
