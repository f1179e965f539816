/* The Universal Sentence Encoder Lite in C (use_lite.h): the converted file, the piece tokenizer, the forward
 * pass. The graph followed is the package's model.json (TF.js): names below are its tensors'. */
#include "embed/use_lite.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "core/buf.h"
#include "core/util.h"

#include "core/banned.h"

#define EMB_DIMS 256
#define VOCAB_ROWS 8002 /* rows of the piece embeddings: no piece id may reach this */
#define FFN_DIMS 1536
#define HEADS 4
#define RESERVED_PIECES 6 /* <unk> and control pieces: never matched in text */

/* ---- the weights, in the converted file's order ---- */

enum tensor {
	T_EMBEDDINGS,
	T_TIMESCALES,
	T_L0_LN_SCALE,
	T_L0_LN_BIAS,
	T_L0_QKV,
	T_L0_QKV_BIAS,
	T_L0_OUT,
	T_L0_OUT_BIAS,
	T_L0_RESIDUAL,
	T_L0_RESIDUAL_BIAS,
	T_L0_FFN_LN_SCALE,
	T_L0_FFN_LN_BIAS,
	T_L0_FFN1,
	T_L0_FFN1_BIAS,
	T_L0_FFN2,
	T_L0_FFN2_BIAS,
	T_L1_LN_SCALE,
	T_L1_LN_BIAS,
	T_L1_QKV,
	T_L1_QKV_BIAS,
	T_L1_OUT,
	T_L1_OUT_BIAS,
	T_L1_FFN_LN_SCALE,
	T_L1_FFN_LN_BIAS,
	T_L1_FFN1,
	T_L1_FFN1_BIAS,
	T_L1_FFN2,
	T_L1_FFN2_BIAS,
	T_TANH,
	T_TANH_BIAS,
	T_COUNT
};

#define E "Encoder_en/KonaTransformer/Encode/"
#define S "Encoder_en/KonaTransformer/Encode/TransformerStack/"
/* Each tensor: a part of its name in model.json that no other tensor's name has, and its size in floats. */
static const struct {
	const char *name;
	size_t n;
	size_t cols; /* a layer's kernel (rows = inputs, cols = outputs), stored in panels for dense(); else 0 */
} tensors[T_COUNT] = {
	[T_EMBEDDINGS] = { "module/Embeddings_en", VOCAB_ROWS * EMB_DIMS },
	[T_TIMESCALES] = { S "Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1", EMB_DIMS / 2 },
	[T_L0_LN_SCALE] = { E "Layer_0/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_scale/", EMB_DIMS },
	[T_L0_LN_BIAS] = { E "Layer_0/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_bias/", EMB_DIMS },
	[T_L0_QKV] = { E "Layer_0/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/", EMB_DIMS * 3 * EMB_DIMS, 3 * EMB_DIMS },
	[T_L0_QKV_BIAS] = { E "Layer_0/TransformerLayer/MultiheadAttention/qkv_transform_single/bias/", 3 * EMB_DIMS },
	[T_L0_OUT] = { E "Layer_0/TransformerLayer/MultiheadAttention/output_transform_single/kernel/", EMB_DIMS * USE_DIMS, USE_DIMS },
	[T_L0_OUT_BIAS] = { E "Layer_0/TransformerLayer/MultiheadAttention/output_transform_single/bias/", USE_DIMS },
	[T_L0_RESIDUAL] = { E "Layer_0/TransformerLayer/dense/kernel/", EMB_DIMS * USE_DIMS, USE_DIMS },
	[T_L0_RESIDUAL_BIAS] = { E "Layer_0/TransformerLayer/dense/bias/", USE_DIMS },
	[T_L0_FFN_LN_SCALE] = { E "Layer_0/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_scale/", USE_DIMS },
	[T_L0_FFN_LN_BIAS] = { E "Layer_0/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_bias/", USE_DIMS },
	[T_L0_FFN1] = { S "Layer_0/TransformerLayer/FFN/conv1/Tensordot/Reshape_1", USE_DIMS * FFN_DIMS, FFN_DIMS },
	[T_L0_FFN1_BIAS] = { E "Layer_0/TransformerLayer/FFN/conv1/bias/", FFN_DIMS },
	[T_L0_FFN2] = { S "Layer_0/TransformerLayer/FFN/conv2/Tensordot/Reshape_1", FFN_DIMS * USE_DIMS, USE_DIMS },
	[T_L0_FFN2_BIAS] = { E "Layer_0/TransformerLayer/FFN/conv2/bias/", USE_DIMS },
	[T_L1_LN_SCALE] = { E "Layer_1/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_scale/", USE_DIMS },
	[T_L1_LN_BIAS] = { E "Layer_1/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_bias/", USE_DIMS },
	[T_L1_QKV] = { E "Layer_1/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/", USE_DIMS * 3 * USE_DIMS, 3 * USE_DIMS },
	[T_L1_QKV_BIAS] = { E "Layer_1/TransformerLayer/MultiheadAttention/qkv_transform_single/bias/", 3 * USE_DIMS },
	[T_L1_OUT] = { E "Layer_1/TransformerLayer/MultiheadAttention/output_transform_single/kernel/", USE_DIMS * USE_DIMS, USE_DIMS },
	[T_L1_OUT_BIAS] = { E "Layer_1/TransformerLayer/MultiheadAttention/output_transform_single/bias/", USE_DIMS },
	[T_L1_FFN_LN_SCALE] = { E "Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_scale/", USE_DIMS },
	[T_L1_FFN_LN_BIAS] = { E "Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_bias/", USE_DIMS },
	[T_L1_FFN1] = { S "Layer_1/TransformerLayer/FFN/conv1/Tensordot/Reshape_1", USE_DIMS * FFN_DIMS, FFN_DIMS },
	[T_L1_FFN1_BIAS] = { E "Layer_1/TransformerLayer/FFN/conv1/bias/", FFN_DIMS },
	[T_L1_FFN2] = { S "Layer_1/TransformerLayer/FFN/conv2/Tensordot/Reshape_1", FFN_DIMS * USE_DIMS, USE_DIMS },
	[T_L1_FFN2_BIAS] = { E "Layer_1/TransformerLayer/FFN/conv2/bias/", USE_DIMS },
	[T_TANH] = { "Encoder_en/hidden_layers/tanh_layer_0/weights", USE_DIMS * USE_DIMS, USE_DIMS },
	[T_TANH_BIAS] = { "Encoder_en/hidden_layers/tanh_layer_0/bias", USE_DIMS },
};
#undef E
#undef S

/* The file: USE_MAGIC, uint32 pieces, uint32 0, the tensors' floats in the order above, each piece's score
 * (float), then the pieces as NUL-terminated UTF-8. Little-endian, as every machine we build on. A kernel
 * (cols > 0) is stored as panels of PANEL columns, one after the other, each row by row: element (k, c) of
 * panel p at p · rows · PANEL + k · PANEL + c, so that dense() reads each panel front to back. */
#define PANEL 16
struct file_head {
	char magic[8];
	uint32_t pieces;
	uint32_t zero;
};

/* ---- the piece table: open addressing on the piece's bytes ---- */

struct slot {
	uint32_t off;   /* of the piece's bytes in the model's strings, 0 = free */
	uint16_t len;   /* bytes */
	uint16_t chars; /* code points */
	int32_t id;
};

struct use_model {
	void *map;
	size_t map_len;
	uint64_t file_id[3]; /* device, inode and change time of the file: models with equal ids are the same */
	const float *t[T_COUNT];
	uint32_t npieces;
	const float *score;
	const char *strings; /* the pieces, each NUL-terminated; offset 0 is never a piece's */
	struct slot *slots;
	size_t nslots;
	size_t max_piece; /* longest piece in bytes */
};

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static const struct slot *piece_find(const struct use_model *m, const char *s, size_t n)
{
	size_t i = hash_bytes(s, n) & (m->nslots - 1);
	for (;; i = (i + 1) & (m->nslots - 1)) {
		const struct slot *sl = &m->slots[i];
		if (!sl->off)
			return NULL;
		if (sl->len == n && !memcmp(m->strings + sl->off, s, n))
			return sl;
	}
}

int use_model_new(const char *path, struct use_model **out, struct fs_error *e)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fs_fail(e, errno == ENOENT ? FS_ENOTFOUND : FS_EINTERNAL, "cannot open the sentence model %s: %s",
			       path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(struct file_head)) {
		close(fd);
		return fs_fail(e, FS_EINVAL, "%s is not a sentence model file", path);
	}
	size_t len = (size_t)st.st_size;
	void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return fs_fail(e, FS_EINTERNAL, "cannot map %s: %s", path, strerror(errno));
	const struct file_head *h = map;
	size_t floats = 0;
	for (int i = 0; i < T_COUNT; i++)
		floats += tensors[i].n;
	if (memcmp(h->magic, USE_MAGIC, 8) != 0 || h->zero != 0 || h->pieces < RESERVED_PIECES ||
	    h->pieces > VOCAB_ROWS) {
		munmap(map, len);
		return fs_fail(e, FS_EINVAL, "%s is not a sentence model file of this version (rebuild it with make)",
			       path);
	}
	size_t need = sizeof(*h) + (floats + (h->pieces)) * sizeof(float);
	if (len <= need || ((const char *)map)[len - 1] != '\0') {
		munmap(map, len);
		return fs_fail(e, FS_EINVAL, "%s is cut short (%zu bytes; more than %zu expected): rebuild it with make",
			       path, len, need);
	}
	struct use_model *m = xcalloc(1, sizeof(*m));
	m->map = map;
	m->map_len = len;
	m->file_id[0] = (uint64_t)st.st_dev;
	m->file_id[1] = (uint64_t)st.st_ino;
	m->file_id[2] = (uint64_t)st.st_ctim.tv_sec * 1000000000u + (uint64_t)st.st_ctim.tv_nsec;
	const float *f = (const float *)(h + 1);
	for (int i = 0; i < T_COUNT; i++) {
		m->t[i] = f;
		f += tensors[i].n;
	}
	m->npieces = h->pieces;
	m->score = f;
	/* the strings start one byte before the first piece so that offset 0 means "free" */
	const char *s = (const char *)(f + h->pieces);
	m->strings = s - 1;
	for (m->nslots = 16; m->nslots < 2 * (size_t)h->pieces; m->nslots *= 2)
		;
	m->slots = xcalloc(m->nslots, sizeof(*m->slots));
	const char *end = (const char *)map + len;
	for (uint32_t id = 0; id < h->pieces; id++) {
		size_t n = strnlen(s, (size_t)(end - s));
		if (s + n >= end || n > UINT16_MAX) {
			use_model_free(m);
			return fs_fail(e, FS_EINVAL, "%s: the piece table is cut short", path);
		}
		if (id >= RESERVED_PIECES && n) {
			/* a later duplicate replaces an earlier one, as the reference tokenizer's trie does */
			size_t k = hash_bytes(s, n) & (m->nslots - 1);
			while (m->slots[k].off &&
			       !(m->slots[k].len == n && !memcmp(m->strings + m->slots[k].off, s, n)))
				k = (k + 1) & (m->nslots - 1);
			m->slots[k].off = (uint32_t)(s - m->strings);
			m->slots[k].len = (uint16_t)n;
			m->slots[k].chars = (uint16_t)util_utf8_chars(s, n);
			m->slots[k].id = (int32_t)id;
			if (n > m->max_piece)
				m->max_piece = n;
		}
		s += n + 1;
	}
	*out = m;
	return FS_OK;
}

void use_model_free(struct use_model *m)
{
	if (!m)
		return;
	if (m->map)
		munmap(m->map, m->map_len);
	free(m->slots);
	free(m);
}

/* ---- the tokenizer ---- */

static int is_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/* NFKC of text into b (ASCII is its own NFKC); invalid UTF-8 becomes U+FFFD. */
static void nfkc(struct buf *b, const char *text, size_t len)
{
	if (is_ascii(text, len)) {
		buf_add(b, text, len);
		return;
	}
	UErrorCode st = U_ZERO_ERROR;
	const UNormalizer2 *norm = unorm2_getNFKCInstance(&st);
	int32_t n16 = 0;
	int32_t in_len = len > INT32_MAX / 4 ? INT32_MAX / 4 : (int32_t)len;
	UChar *u = xmalloc(((size_t)in_len + 1) * sizeof(UChar));
	u_strFromUTF8WithSub(u, in_len + 1, &n16, text, in_len, 0xFFFD, NULL, &st);
	if (U_FAILURE(st)) {
		free(u);
		buf_add(b, text, len);
		return;
	}
	/* NFKC may lengthen a character many times over (U+FDFA becomes 18 units): ICU says how much room */
	int32_t cap = n16 + 16;
	UChar *v = xmalloc((size_t)cap * sizeof(UChar));
	int32_t nv = unorm2_normalize(norm, u, n16, v, cap, &st);
	if (st == U_BUFFER_OVERFLOW_ERROR) {
		st = U_ZERO_ERROR;
		cap = nv + 1;
		v = xrealloc(v, (size_t)cap * sizeof(UChar));
		nv = unorm2_normalize(norm, u, n16, v, cap, &st);
	}
	if (U_FAILURE(st)) {
		free(u);
		free(v);
		buf_add(b, text, len);
		return;
	}
	int32_t n8 = 0;
	char *o = xmalloc((size_t)nv * 3 + 1); /* a UTF-16 unit is at most 3 bytes of UTF-8 */
	st = U_ZERO_ERROR;
	u_strToUTF8WithSub(o, nv * 3 + 1, &n8, v, nv, 0xFFFD, NULL, &st);
	if (U_SUCCESS(st))
		buf_add(b, o, (size_t)n8);
	else
		buf_add(b, text, len);
	free(u);
	free(v);
	free(o);
}

/* The best segmentation by the pieces' scores (a Viterbi pass over code points), with the reference
 * tokenizer's choices on ties: a later start wins an equal score, and a code point no piece starts with is one
 * <unk> (id 0) of score 0. Consecutive <unk>s are one. */
size_t use_tokenize(const struct use_model *m, const char *text, size_t len, int *ids, size_t max)
{
	static const char sep[] = "\xe2\x96\x81"; /* U+2581, SentencePiece's word boundary */
	struct buf norm, in;
	buf_init(&norm, BUF_NO_LIMIT);
	buf_init(&in, BUF_NO_LIMIT);
	nfkc(&norm, text, len);
	if (norm.len) {
		buf_add(&in, sep, 3);
		for (size_t i = 0; i < norm.len; i++) {
			if (norm.ptr[i] == ' ')
				buf_add(&in, sep, 3);
			else
				buf_add(&in, &norm.ptr[i], 1);
		}
	}
	buf_release(&norm);
	/* code point starts */
	size_t n = 0;
	size_t *at = xmalloc((in.len + 1) * sizeof(*at));
	for (size_t i = 0; i < in.len;) {
		at[n++] = i;
		size_t k = util_utf8_seq((const unsigned char *)in.ptr + i, in.len - i);
		i += k ? k : 1;
	}
	at[n] = in.len;
	double *best = xcalloc(n + 1, sizeof(*best));
	int *word = xcalloc(n + 1, sizeof(*word));
	int *wlen = xcalloc(n + 1, sizeof(*wlen)); /* code points of the piece ending here */
	/* Pieces ending at e are tried in order of their start; with "best[e] == 0 || score >= best[e]" that is the
	 * reference's order (its per-end lists are keyed by start). Done as a forward pass over starts, which
	 * visits each (start, end) pair in the same order for any one end. */
	for (size_t s = 0; s < n; s++) {
		int found = 0;
		for (size_t e = s + 1; e <= n && at[e] - at[s] <= m->max_piece; e++) {
			const struct slot *sl = piece_find(m, in.ptr + at[s], at[e] - at[s]);
			if (!sl)
				continue;
			found = 1;
			double sc = m->score[sl->id] + best[s];
			if (best[e] == 0 || sc >= best[e]) {
				best[e] = sc;
				word[e] = sl->id;
				wlen[e] = (int)(e - s);
			}
		}
		if (!found) {
			double sc = best[s];
			if (best[s + 1] == 0 || sc >= best[s + 1]) {
				best[s + 1] = sc;
				word[s + 1] = 0;
				wlen[s + 1] = 1;
			}
		}
	}
	/* back from the end, then reversed */
	size_t count = 0, cap = 64;
	int *rev = xmalloc(cap * sizeof(*rev));
	for (size_t i = n; i > 0;) {
		if (count == cap)
			rev = xrealloc(rev, (cap *= 2) * sizeof(*rev));
		rev[count++] = word[i];
		size_t step = wlen[i] > 0 ? (size_t)wlen[i] : 1;
		i = step > i ? 0 : i - step;
	}
	size_t total = 0;
	for (size_t k = count; k-- > 0;) {
		if (rev[k] == 0 && k + 1 < count && rev[k + 1] == 0)
			continue;
		if (total < max)
			ids[total] = rev[k];
		total++;
	}
	free(rev);
	free(at);
	free(best);
	free(word);
	free(wlen);
	buf_release(&in);
	return total;
}

/* ---- the forward pass ---- */

/* y[n][out] = x[n][in] · w[in][out] + b, w in panels (see PANEL), out a multiple of PANEL. A panel (16 columns,
 * all rows, contiguous) is read from memory once and stays in cache while every four rows of x go through it;
 * each step multiplies one row of the panel into 4 × 16 sums held in registers. Built twice, for AVX2 with FMA and for
 * the x86-64 baseline, and chosen at load by the CPU: one binary runs on any x86-64 and at full width where it
 * can. */
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4))); /* the same, read from any float address */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MULTIARCH __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MULTIARCH
#endif

/* The two kernels below only do arithmetic on the model's weights (whose sizes use_model_new checks) and on
 * buffers embed_rows sizes. An AddressSanitizer build leaves them uninstrumented and, like any build, picks their
 * clone for the CPU: instrumented and on the baseline clone, the encoder ran 27 times slower and a sanitizer run
 * of the test suite could not ingest real documents in time. The tokenizer and everything around the kernels stay
 * checked. */
#if defined(__SANITIZE_ADDRESS__)
#define KERNEL __attribute__((no_sanitize_address, no_sanitize_undefined))
#else
#define KERNEL
#endif

MULTIARCH KERNEL
static void dense(const float *x, size_t n, size_t in, const float *w, const float *b, size_t out, float *y)
{
	for (size_t j = 0; j < out; j += PANEL) {
		const float *panel = w + j * in;
		v8 b0 = *(const v8u *)(b + j), b1 = *(const v8u *)(b + j + 8);
		size_t i = 0;
		for (; i + 4 <= n; i += 4) {
			v8 a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
			const float *x0 = x + i * in, *x1 = x0 + in, *x2 = x1 + in, *x3 = x2 + in;
			for (size_t k = 0; k < in; k++) {
				const float *wr = panel + k * PANEL;
				v8 w0 = *(const v8u *)wr, w1 = *(const v8u *)(wr + 8);
				a00 += x0[k] * w0;
				a01 += x0[k] * w1;
				a10 += x1[k] * w0;
				a11 += x1[k] * w1;
				a20 += x2[k] * w0;
				a21 += x2[k] * w1;
				a30 += x3[k] * w0;
				a31 += x3[k] * w1;
			}
			float *y0 = y + i * out + j;
			*(v8u *)y0 = a00;
			*(v8u *)(y0 + 8) = a01;
			*(v8u *)(y0 + out) = a10;
			*(v8u *)(y0 + out + 8) = a11;
			*(v8u *)(y0 + 2 * out) = a20;
			*(v8u *)(y0 + 2 * out + 8) = a21;
			*(v8u *)(y0 + 3 * out) = a30;
			*(v8u *)(y0 + 3 * out + 8) = a31;
		}
		for (; i < n; i++) {
			v8 a0 = b0, a1 = b1;
			const float *xr = x + i * in;
			for (size_t k = 0; k < in; k++) {
				const float *wr = panel + k * PANEL;
				a0 += xr[k] * *(const v8u *)wr;
				a1 += xr[k] * *(const v8u *)(wr + 8);
			}
			*(v8u *)(y + i * out + j) = a0;
			*(v8u *)(y + i * out + j + 8) = a1;
		}
	}
}

/* Layer normalisation of each row (epsilon 1e-6, as the graph's). */
static void layer_norm(const float *x, size_t n, size_t d, const float *scale, const float *bias, float *y)
{
	for (size_t i = 0; i < n; i++) {
		const float *xr = x + i * d;
		float *yr = y + i * d;
		float mean = 0, var = 0;
		for (size_t j = 0; j < d; j++)
			mean += xr[j];
		mean /= (float)d;
		for (size_t j = 0; j < d; j++)
			var += (xr[j] - mean) * (xr[j] - mean);
		var /= (float)d;
		float r = 1.0f / sqrtf(var + 1e-6f);
		for (size_t j = 0; j < d; j++)
			yr[j] = (xr[j] - mean) * r * scale[j] + bias[j];
	}
}

/* Multi-head self-attention over n positions: qkv[n][3d] (queries, keys, values side by side) into o[n][d]. The
 * head width (64, 128) is a multiple of 8: dot products go eight lanes at a time. */
MULTIARCH KERNEL
static void attention(const float *qkv, size_t n, size_t d, float *o, float *logits)
{
	size_t depth = d / HEADS;
	float scale = 1.0f / sqrtf((float)depth);
	for (size_t h = 0; h < HEADS; h++) {
		for (size_t i = 0; i < n; i++) {
			const float *q = qkv + i * 3 * d + h * depth;
			float mx = -INFINITY;
			for (size_t j = 0; j < n; j++) {
				const float *k = qkv + j * 3 * d + d + h * depth;
				v8 acc = { 0 };
				for (size_t c = 0; c < depth; c += 8)
					acc += *(const v8u *)(q + c) * *(const v8u *)(k + c);
				float s = 0;
				for (int l = 0; l < 8; l++)
					s += acc[l];
				logits[j] = s * scale;
				if (logits[j] > mx)
					mx = logits[j];
			}
			float sum = 0;
			for (size_t j = 0; j < n; j++) {
				logits[j] = expf(logits[j] - mx);
				sum += logits[j];
			}
			float *orow = o + i * d + h * depth;
			memset(orow, 0, depth * sizeof(float));
			for (size_t j = 0; j < n; j++) {
				const float *v = qkv + j * 3 * d + 2 * d + h * depth;
				float a = logits[j] / sum;
				for (size_t c = 0; c < depth; c += 8)
					*(v8u *)(orow + c) += a * *(const v8u *)(v + c);
			}
		}
	}
}

static void relu(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (x[i] < 0)
			x[i] = 0;
}

/* One pre-norm feed-forward block: h += W2 · relu(W1 · LN(h)). */
static void feed_forward(const struct use_model *m, int layer, float *h, size_t n, float *tmp, float *wide)
{
	int base = layer == 0 ? T_L0_FFN_LN_SCALE : T_L1_FFN_LN_SCALE;
	layer_norm(h, n, USE_DIMS, m->t[base], m->t[base + 1], tmp);
	dense(tmp, n, USE_DIMS, m->t[base + 2], m->t[base + 3], FFN_DIMS, wide);
	relu(wide, n * FFN_DIMS);
	dense(wide, n, FFN_DIMS, m->t[base + 4], m->t[base + 5], USE_DIMS, tmp);
	for (size_t i = 0; i < n * USE_DIMS; i++)
		h[i] += tmp[i];
}

/* The rows of several texts go through the layers together (each text attends only to its own pieces): the
 * weights are then read from memory once for the whole batch instead of once per text. */
#define BATCH_ROWS 512

static void embed_rows(const struct use_model *m, const int *ids, const size_t *seg, size_t nseg, float *out)
{
	size_t n = seg[nseg];
	/* the layers run on a multiple of four rows (dense()'s block), the rows past n zero and never read */
	size_t rows = n ? (n + 3) & ~(size_t)3 : 4;
	float *x = xcalloc(rows * EMB_DIMS, sizeof(float));
	float *y = xcalloc(rows * EMB_DIMS, sizeof(float));
	float *h = xcalloc(rows * USE_DIMS, sizeof(float));
	float *tmp = xcalloc(rows * USE_DIMS, sizeof(float));
	float *qkv = xcalloc(rows * 3 * USE_DIMS, sizeof(float));
	float *wide = xcalloc(rows * FFN_DIMS, sizeof(float));
	float *att = xcalloc(rows * USE_DIMS, sizeof(float));
	float *mean = xcalloc(nseg, USE_DIMS * sizeof(float));
	float logits[USE_MAX_PIECES];

	/* pieces and their positions: the graph adds the pieces' embeddings twice (once with the position signal,
	 * once as they are), so the sum holds 2 · embedding + signal */
	const float *inv = m->t[T_TIMESCALES];
	for (size_t t = 0; t < nseg; t++)
		for (size_t i = seg[t]; i < seg[t + 1]; i++) {
			const float *emb = m->t[T_EMBEDDINGS] + (size_t)ids[i] * EMB_DIMS;
			float *xr = x + i * EMB_DIMS;
			float pos = (float)(i - seg[t]);
			for (size_t j = 0; j < EMB_DIMS / 2; j++) {
				xr[j] = 2 * emb[j] + sinf(pos * inv[j]);
				xr[j + EMB_DIMS / 2] = 2 * emb[j + EMB_DIMS / 2] + cosf(pos * inv[j]);
			}
		}
	/* layer 0: attention at 256, its output and the residual both projected to 512 */
	dense(x, rows, EMB_DIMS, m->t[T_L0_RESIDUAL], m->t[T_L0_RESIDUAL_BIAS], USE_DIMS, h);
	layer_norm(x, rows, EMB_DIMS, m->t[T_L0_LN_SCALE], m->t[T_L0_LN_BIAS], y);
	dense(y, rows, EMB_DIMS, m->t[T_L0_QKV], m->t[T_L0_QKV_BIAS], 3 * EMB_DIMS, qkv);
	for (size_t t = 0; t < nseg; t++)
		attention(qkv + seg[t] * 3 * EMB_DIMS, seg[t + 1] - seg[t], EMB_DIMS, att + seg[t] * EMB_DIMS, logits);
	dense(att, rows, EMB_DIMS, m->t[T_L0_OUT], m->t[T_L0_OUT_BIAS], USE_DIMS, tmp);
	for (size_t i = 0; i < rows * USE_DIMS; i++)
		h[i] += tmp[i];
	feed_forward(m, 0, h, rows, tmp, wide);
	/* layer 1 at 512 */
	layer_norm(h, rows, USE_DIMS, m->t[T_L1_LN_SCALE], m->t[T_L1_LN_BIAS], tmp);
	dense(tmp, rows, USE_DIMS, m->t[T_L1_QKV], m->t[T_L1_QKV_BIAS], 3 * USE_DIMS, qkv);
	for (size_t t = 0; t < nseg; t++)
		attention(qkv + seg[t] * 3 * USE_DIMS, seg[t + 1] - seg[t], USE_DIMS, att + seg[t] * USE_DIMS, logits);
	dense(att, rows, USE_DIMS, m->t[T_L1_OUT], m->t[T_L1_OUT_BIAS], USE_DIMS, tmp);
	for (size_t i = 0; i < rows * USE_DIMS; i++)
		h[i] += tmp[i];
	feed_forward(m, 1, h, rows, tmp, wide);
	/* the mean of each text's pieces (a text without any keeps the zero vector), the tanh layer, unit length */
	for (size_t t = 0; t < nseg; t++) {
		size_t k = seg[t + 1] - seg[t];
		for (size_t i = seg[t]; i < seg[t + 1]; i++)
			for (size_t j = 0; j < USE_DIMS; j++)
				mean[t * USE_DIMS + j] += h[i * USE_DIMS + j];
		for (size_t j = 0; k && j < USE_DIMS; j++)
			mean[t * USE_DIMS + j] /= (float)k;
	}
	dense(mean, nseg, USE_DIMS, m->t[T_TANH], m->t[T_TANH_BIAS], USE_DIMS, out);
	for (size_t t = 0; t < nseg; t++) {
		float *o = out + t * USE_DIMS;
		double norm = 0;
		for (size_t j = 0; j < USE_DIMS; j++) {
			o[j] = tanhf(o[j]);
			norm += (double)o[j] * o[j];
		}
		float r = (float)(1.0 / sqrt(norm > 1e-12 ? norm : 1e-12));
		for (size_t j = 0; j < USE_DIMS; j++)
			o[j] *= r;
	}
	free(x);
	free(y);
	free(h);
	free(tmp);
	free(qkv);
	free(wide);
	free(att);
	free(mean);
}

void use_embed_many(const struct use_model *m, const char *const *texts, const size_t *lens, size_t count,
		    float *out)
{
	int *ids = xmalloc((BATCH_ROWS + USE_MAX_PIECES) * sizeof(int));
	size_t *seg = xmalloc((BATCH_ROWS + 2) * sizeof(size_t));
	size_t first = 0, nseg = 0;
	seg[0] = 0;
	for (size_t t = 0; t < count; t++) {
		size_t k = use_tokenize(m, texts[t], lens[t], ids + seg[nseg], USE_MAX_PIECES);
		seg[nseg + 1] = seg[nseg] + (k < USE_MAX_PIECES ? k : USE_MAX_PIECES);
		nseg++;
		if (seg[nseg] >= BATCH_ROWS || nseg > BATCH_ROWS || t + 1 == count) {
			embed_rows(m, ids, seg, nseg, out + first * USE_DIMS);
			first = t + 1;
			nseg = 0;
		}
	}
	free(ids);
	free(seg);
}

/* The last single text embedded on this thread, by any model opened from the same file: a chat embeds its
 * question for search (embed_builtin.c) and again for the answerer (answer_span.c), and the second is free. */
static _Thread_local struct {
	uint64_t file_id[3];
	char *text;
	size_t len;
	float vec[USE_DIMS];
} last;

void use_embed(const struct use_model *m, const char *text, size_t len, float *out)
{
	if (last.text && last.len == len && !memcmp(last.file_id, m->file_id, sizeof(last.file_id)) &&
	    !memcmp(last.text, text, len)) {
		memcpy(out, last.vec, sizeof(last.vec));
		return;
	}
	use_embed_many(m, &text, &len, 1, out);
	if (len <= 4096) { /* a question, not a document */
		free(last.text);
		last.text = xmalloc(len + 1);
		memcpy(last.text, text, len);
		last.len = len;
		memcpy(last.file_id, m->file_id, sizeof(last.file_id));
		memcpy(last.vec, out, sizeof(last.vec));
	}
}

/* ---- conversion from the npm package ---- */

static int read_file(const char *path, struct buf *b, struct fs_error *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return fs_fail(e, FS_ENOTFOUND, "cannot open %s: %s", path, strerror(errno));
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(b, chunk, n);
	int bad = ferror(f);
	fclose(f);
	return bad ? fs_fail(e, FS_EINTERNAL, "cannot read %s", path) : FS_OK;
}

static size_t shape_count(json_t *shape)
{
	size_t n = 1, i;
	json_t *v;
	json_array_foreach(shape, i, v) {
		json_int_t d = json_integer_value(v);
		if (d < 0 || d > (1 << 28) || (d && n > SIZE_MAX / (size_t)d))
			return SIZE_MAX; /* never a tensor of this model */
		n *= (size_t)d;
	}
	return n;
}

int use_model_convert(const char *dist_dir, const char *out, struct fs_error *e)
{
	struct buf path, weights, vocab_text;
	buf_init(&path, BUF_NO_LIMIT);
	buf_init(&weights, BUF_NO_LIMIT);
	buf_init(&vocab_text, BUF_NO_LIMIT);
	json_t *model = NULL, *vocab = NULL;
	FILE *f = NULL;
	int rc = FS_OK;
	const float *found[T_COUNT] = { 0 };

	buf_addf(&path, "%s/model.json", dist_dir);
	json_error_t je;
	model = json_load_file(buf_str(&path), 0, &je);
	if (!model) {
		rc = fs_fail(e, FS_EINVAL, "%s: %s", buf_str(&path), je.text);
		goto done;
	}
	json_t *manifest = json_array_get(json_object_get(model, "weightsManifest"), 0);
	json_t *paths = json_object_get(manifest, "paths"), *list = json_object_get(manifest, "weights");
	size_t i;
	json_t *v;
	json_array_foreach(paths, i, v) {
		buf_reset(&path);
		buf_addf(&path, "%s/%s", dist_dir, json_string_value(v) ? json_string_value(v) : "");
		if ((rc = read_file(buf_str(&path), &weights, e)) < 0)
			goto done;
	}
	size_t off = 0;
	json_array_foreach(list, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *dtype = json_string_value(json_object_get(v, "dtype"));
		size_t n = shape_count(json_object_get(v, "shape"));
		if (!name || !dtype || json_object_get(v, "quantization")) {
			rc = fs_fail(e, FS_EINVAL, "model.json: weight %zu is not a plain tensor", i);
			goto done;
		}
		if (n > weights.len / 4 || off + n * 4 > weights.len) {
			rc = fs_fail(e, FS_EINVAL, "model.json: the shards end before %s", name);
			goto done;
		}
		for (int t = 0; t < T_COUNT; t++) {
			if (!strstr(name, tensors[t].name))
				continue;
			if (found[t] || strcmp(dtype, "float32") != 0 || n != tensors[t].n) {
				rc = fs_fail(e, FS_EINVAL, "model.json: %s is not the tensor expected (%zu floats)", name,
					     tensors[t].n);
				goto done;
			}
			found[t] = (const float *)(weights.ptr + off);
		}
		off += n * 4; /* every dtype here is 4 bytes wide (float32, int32) */
	}
	for (int t = 0; t < T_COUNT; t++)
		if (!found[t]) {
			rc = fs_fail(e, FS_EINVAL, "model.json has no tensor %s", tensors[t].name);
			goto done;
		}

	buf_reset(&path);
	buf_addf(&path, "%s/vocab.json", dist_dir);
	vocab = json_load_file(buf_str(&path), 0, &je);
	if (!json_is_array(vocab) || json_array_size(vocab) < RESERVED_PIECES || json_array_size(vocab) > VOCAB_ROWS) {
		rc = fs_fail(e, FS_EINVAL, "%s: not a vocabulary", buf_str(&path));
		goto done;
	}
	buf_reset(&path);
	buf_addf(&path, "%s.tmp", out);
	f = fopen(buf_str(&path), "wb");
	if (!f) {
		rc = fs_fail(e, FS_EINTERNAL, "cannot create %s: %s", buf_str(&path), strerror(errno));
		goto done;
	}
	struct file_head h = { .pieces = (uint32_t)json_array_size(vocab) };
	memcpy(h.magic, USE_MAGIC, 8);
	fwrite(&h, sizeof(h), 1, f);
	for (int t = 0; t < T_COUNT; t++) {
		size_t cols = tensors[t].cols;
		if (!cols) {
			fwrite(found[t], sizeof(float), tensors[t].n, f);
			continue;
		}
		size_t rows = tensors[t].n / cols;
		for (size_t p = 0; p < cols; p += PANEL)
			for (size_t k = 0; k < rows; k++)
				fwrite(found[t] + k * cols + p, sizeof(float), PANEL, f);
	}
	json_array_foreach(vocab, i, v) {
		float sc = (float)json_number_value(json_array_get(v, 1));
		fwrite(&sc, sizeof(sc), 1, f);
	}
	json_array_foreach(vocab, i, v) {
		const char *p = json_string_value(json_array_get(v, 0));
		fwrite(p ? p : "", 1, strlen(p ? p : "") + 1, f);
	}
	int bad = ferror(f);
	if (fclose(f) != 0 || bad || rename(buf_str(&path), out) != 0) {
		rc = fs_fail(e, FS_EINTERNAL, "cannot write %s: %s", out, strerror(errno));
		unlink(buf_str(&path));
	}
	f = NULL;
done:
	if (f)
		fclose(f);
	json_decref(model);
	json_decref(vocab);
	buf_release(&path);
	buf_release(&weights);
	buf_release(&vocab_text);
	return rc;
}
