/* The embedder registry (configuration name → ops), the thin wrappers that dispatch to a backend, and the
 * built-in tokenizer that prices texts. */
#include "embed/embed.h"

#include <string.h>

#include "core/buf.h"

#include "core/banned.h"

/* Every backend, by the name [embedder] backend selects. */
static const struct embed_ops *const backends[] = {
	&embed_builtin_ops,
	&embed_openai_ops,
};

#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

int embedder_open(const struct config *cfg, struct embedder **out, struct fs_error *e)
{
	const char *name = cfg && cfg->embedder_backend ? cfg->embedder_backend : "builtin";
	struct buf known;
	int rc;

	*out = NULL;
	for (size_t i = 0; i < NBACKENDS; i++)
		if (strcmp(name, backends[i]->name) == 0)
			return backends[i]->open(cfg, out, e);

	buf_init(&known, BUF_NO_LIMIT);
	for (size_t i = 0; i < NBACKENDS; i++)
		buf_addf(&known, "%s%s", i ? ", " : "", backends[i]->name);
	rc = fs_fail(e, FS_EINVAL, "unknown embedder backend '%s' (known: %s)", name, buf_str(&known));
	buf_release(&known);
	return rc;
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

void embedder_close(struct embedder *em)
{
	if (em)
		em->ops->close(em);
}

static int is_word_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

long long embed_count_tokens(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	long long n = 0;
	if (!p)
		return 0;
	while (*p) {
		if (is_word_byte(*p)) {
			while (is_word_byte(*p))
				p++;
			n++;
		} else {
			if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\f' && *p != '\v')
				n++;
			p++;
		}
	}
	return n;
}
