/* The embedder registry (configuration name → ops) and the thin wrappers that dispatch to a backend. */
#include "embed/embed.h"

#include <string.h>

#include "core/registry.h"
#include "core/banned.h"

/* Every backend, by the name [embedder] backend selects. */
static const void *const backends[] = {
	&embed_builtin_ops,
	&embed_openai_ops,
};

#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

int embedder_new(const struct config *cfg, struct embedder **out, struct fs_error *e)
{
	const char *name = cfg && cfg->embedder_backend ? cfg->embedder_backend : "builtin";
	const struct embed_ops *ops = registry_find(backends, NBACKENDS, name);
	*out = NULL;
	if (!ops)
		return registry_unknown(backends, NBACKENDS, "embedder backend", name, e);
	return ops->new(cfg, out, e);
}

static int embed_call(struct embedder *em, const char *const *texts, const char *const *leads, size_t n,
		      float *out, long long *tokens, struct fs_error *e)
{
	long long ignored;
	if (!tokens)
		tokens = &ignored;
	*tokens = 0;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!texts[i])
			return fs_fail(e, FS_EINVAL, "text %zu to embed is missing", i);
	return em->ops->embed(em, texts, leads, n, out, tokens, e);
}

int embedder_embed(struct embedder *em, const char *const *texts, size_t n, float *out, long long *tokens,
		   struct fs_error *e)
{
	return embed_call(em, texts, NULL, n, out, tokens, e);
}

int embedder_embed_passages(struct embedder *em, const char *const *texts, const char *const *leads, size_t n,
			    float *out, long long *tokens, struct fs_error *e)
{
	return embed_call(em, texts, leads, n, out, tokens, e);
}

void embedder_free(struct embedder *em)
{
	if (em)
		em->ops->free(em);
}
