/* The file form of struct vindex: one account's index on local disk, written once and then only mapped
 * read-only, so every process of the machine shares one copy in the page cache.
 *
 * Layout (little-endian, as the machine that wrote it; a file of another byte order is refused):
 *   header, 128 bytes: magic "FAQSVIX\n", format, byte-order mark, then dims, rows, sparse entries, distinct
 *   terms, generation, epoch, stamp, and the file's length;
 *   then the arrays of struct vindex in this order, each starting at a multiple of 64 bytes: vecs, codes,
 *   scales, chunk_ids, doc_ids, seq, sp_off, sp_idx, sp_val, post_terms, post_off, post_rows, post_w.
 * The arrays' places follow from the counts alone, so a reader checks the file's length against them and the
 * offsets' bounds before it trusts one. */
#include "vstore/vindex.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/banned.h"

#define VIX_MAGIC "FAQSVIX\n"
#define VIX_FORMAT 1u
#define VIX_BOM 0x01020304u
#define VIX_HEADER 128
#define VIX_ALIGN 64

struct vix_header {
	char magic[8];
	uint32_t format, bom;
	uint64_t dims, n, sp_len, nterms, generation, epoch, stamp, length;
};

/* Why h is not the header of an index file this program reads, or NULL when it is. */
static const char *header_problem(const struct vix_header *h)
{
	if (memcmp(h->magic, VIX_MAGIC, sizeof(h->magic)) || h->bom != VIX_BOM)
		return "not a vector index of this machine's byte order";
	if (h->format != VIX_FORMAT)
		return "another format of vector index";
	return NULL;
}

/* Where each array starts, from the counts. */
struct vix_layout {
	size_t vecs, codes, scales, chunk_ids, doc_ids, seq, sp_off, sp_idx, sp_val, post_terms, post_off, post_rows,
		post_w, length;
};

static size_t place(size_t *at, size_t bytes)
{
	size_t start = (*at + VIX_ALIGN - 1) / VIX_ALIGN * VIX_ALIGN;
	*at = start + bytes;
	return start;
}

/* 0, or -1 when the counts would not fit in memory (a damaged header). */
static int layout(uint64_t dims, uint64_t n, uint64_t sp_len, uint64_t nterms, struct vix_layout *l)
{
	const uint64_t limit = (uint64_t)1 << 40;
	if (dims == 0 || dims > 65536 || n > UINT32_MAX || sp_len > limit || nterms > sp_len || n * dims > limit ||
	    (uint64_t)SIZE_MAX < limit)
		return -1;
	size_t at = VIX_HEADER, rows = (size_t)n, d = (size_t)dims, sp = (size_t)sp_len, t = (size_t)nterms;
	l->vecs = place(&at, rows * d * sizeof(float));
	l->codes = place(&at, rows * d);
	l->scales = place(&at, rows * sizeof(float));
	l->chunk_ids = place(&at, rows * 37);
	l->doc_ids = place(&at, rows * 37);
	l->seq = place(&at, rows * sizeof(uint64_t));
	l->sp_off = place(&at, (rows + 1) * sizeof(uint64_t));
	l->sp_idx = place(&at, sp * sizeof(uint32_t));
	l->sp_val = place(&at, sp * sizeof(float));
	l->post_terms = place(&at, t * sizeof(uint32_t));
	l->post_off = place(&at, (t + 1) * sizeof(uint64_t));
	l->post_rows = place(&at, sp * sizeof(uint32_t));
	l->post_w = place(&at, sp * sizeof(float));
	l->length = at;
	return 0;
}

/* A buffered writer that places each array at its offset (zero padding before it). */
struct out {
	int fd, failed;
	size_t pos, len;
	char buf[1 << 16];
};

static void out_flush(struct out *o)
{
	const char *c = o->buf;
	size_t len = o->len;
	while (len && !o->failed) {
		ssize_t w = write(o->fd, c, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			o->failed = 1;
			break;
		}
		c += w;
		len -= (size_t)w;
	}
	o->len = 0;
}

static void out_put(struct out *o, const void *p, size_t len)
{
	const char *c = p;
	while (len && !o->failed) {
		size_t k = sizeof(o->buf) - o->len < len ? sizeof(o->buf) - o->len : len;
		memcpy(o->buf + o->len, c, k);
		o->len += k;
		o->pos += k;
		c += k;
		len -= k;
		if (o->len == sizeof(o->buf))
			out_flush(o);
	}
}

static void out_at(struct out *o, size_t offset)
{
	static const char zeros[VIX_ALIGN];
	while (o->pos < offset && !o->failed)
		out_put(o, zeros, offset - o->pos < sizeof(zeros) ? offset - o->pos : sizeof(zeros));
}

static void out_u64(struct out *o, uint64_t v)
{
	out_put(o, &v, sizeof(v));
}

/* What a pass over the merged inverted lists writes. */
enum pass { COUNT, TERMS, OFFSETS, ROWS, WEIGHTS };

/* The inverted lists of base's kept rows (renumbered by remap) and of add's rows (after them, from nk), merged
 * term by term; a term left with no row is dropped. Writes what pass says; returns the number of terms. */
static size_t merge_postings(struct out *o, const struct vindex *b, const uint8_t *keep, const uint32_t *remap,
			     const struct vindex *a, uint32_t nk, enum pass pass)
{
	size_t i = 0, j = 0, nterms = 0, bt = b->n ? b->post_nterms : 0, at = a->n ? a->post_nterms : 0;
	uint64_t total = 0;
	if (pass == OFFSETS)
		out_u64(o, 0);
	while (i < bt || j < at) {
		int from_b = j >= at || (i < bt && b->post_terms[i] <= a->post_terms[j]);
		int from_a = i >= bt || (j < at && a->post_terms[j] <= b->post_terms[i]);
		uint32_t term = from_b ? b->post_terms[i] : a->post_terms[j];
		size_t count = 0;
		if (from_b) {
			for (uint64_t p = b->post_off[i]; p < b->post_off[i + 1]; p++) {
				uint32_t row = b->post_rows[p];
				if (row >= b->n || (keep && !keep[row]))
					continue;
				count++;
				if (pass == ROWS)
					out_put(o, &remap[row], sizeof(uint32_t));
				else if (pass == WEIGHTS)
					out_put(o, &b->post_w[p], sizeof(float));
			}
			i++;
		}
		if (from_a) {
			for (uint64_t p = a->post_off[j]; p < a->post_off[j + 1]; p++) {
				uint32_t row = a->post_rows[p] + nk;
				count++;
				if (pass == ROWS)
					out_put(o, &row, sizeof(row));
				else if (pass == WEIGHTS)
					out_put(o, &a->post_w[p], sizeof(float));
			}
			j++;
		}
		if (!count)
			continue;
		nterms++;
		total += count;
		if (pass == TERMS)
			out_put(o, &term, sizeof(term));
		else if (pass == OFFSETS)
			out_u64(o, total);
	}
	return nterms;
}

/* Row i's span of sparse entries. */
static uint64_t entries(const struct vindex *ix, size_t i)
{
	return ix->sp_off[i + 1] - ix->sp_off[i];
}

int vindex_write_merged(const struct vindex *base, const uint8_t *keep, struct vindex *add, const char *path,
			const struct vindex_label *label, unsigned mode, struct fs_error *e)
{
	struct vix_layout l;
	struct vix_header h;
	struct vindex none;
	char tmp[PATH_MAX];
	int rc = 0;
	size_t d = base->dims, nk = 0, sp_len = 0;
	vindex_init(&none, d);
	const struct vindex *a = add ? add : &none;
	if (add)
		vindex_prepare(add);
	if (base->n && !base->post_ready) {
		vindex_release(&none);
		return fs_fail(e, FS_EINTERNAL, "the index to write from has no inverted lists");
	}
	uint32_t *remap = xmalloc((base->n ? base->n : 1) * sizeof(*remap));
	for (size_t i = 0; i < base->n; i++)
		if (!keep || keep[i]) {
			remap[i] = (uint32_t)nk++;
			sp_len += entries(base, i);
		}
	sp_len += a->sp_len;
	size_t n = nk + a->n;
	struct out *o = xcalloc(1, sizeof(*o));
	size_t nterms = merge_postings(o, base, keep, remap, a, (uint32_t)nk, COUNT);
	if (layout(d, n, sp_len, nterms, &l) < 0) {
		rc = fs_fail(e, FS_EINTERNAL, "vector index too large to write");
		goto out;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, VIX_MAGIC, sizeof(h.magic));
	h.format = VIX_FORMAT;
	h.bom = VIX_BOM;
	h.dims = d;
	h.n = n;
	h.sp_len = sp_len;
	h.nterms = nterms;
	h.generation = label->generation;
	h.epoch = label->epoch;
	h.stamp = label->stamp;
	h.length = l.length;

	int len = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if (len < 0 || (size_t)len >= sizeof(tmp)) {
		rc = fs_fail(e, FS_EINTERNAL, "vector index path too long: %s", path);
		goto out;
	}
	o->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (o->fd < 0) {
		rc = fs_fail(e, FS_EUNAVAIL, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	o->failed = fchmod(o->fd, mode) < 0; /* whatever the umask */
	out_put(o, &h, sizeof(h));
	/* each array: the kept rows of base in order, then add's */
#define ROWS_OF(offset, field, per_row)                                                                        \
	do {                                                                                                   \
		out_at(o, offset);                                                                             \
		for (size_t i = 0; i < base->n; i++)                                                           \
			if (!keep || keep[i])                                                                  \
				out_put(o, (const char *)base->field + i * (per_row), per_row);               \
		if (a->n)                                                                                      \
			out_put(o, a->field, a->n * (per_row));                                                \
	} while (0)
	ROWS_OF(l.vecs, vecs, d * sizeof(float));
	ROWS_OF(l.codes, codes, d);
	ROWS_OF(l.scales, scales, sizeof(float));
	ROWS_OF(l.chunk_ids, chunk_ids, 37);
	ROWS_OF(l.doc_ids, doc_ids, 37);
	ROWS_OF(l.seq, seq, sizeof(uint64_t));
#undef ROWS_OF
	out_at(o, l.sp_off);
	uint64_t acc = 0;
	out_u64(o, 0);
	for (size_t i = 0; i < base->n; i++)
		if (!keep || keep[i])
			out_u64(o, acc += entries(base, i));
	for (size_t j = 0; j < a->n; j++)
		out_u64(o, acc += entries(a, j));
	out_at(o, l.sp_idx);
	for (size_t i = 0; i < base->n; i++)
		if (!keep || keep[i])
			out_put(o, base->sp_idx + base->sp_off[i], entries(base, i) * sizeof(uint32_t));
	out_put(o, a->sp_idx, a->sp_len * sizeof(uint32_t));
	out_at(o, l.sp_val);
	for (size_t i = 0; i < base->n; i++)
		if (!keep || keep[i])
			out_put(o, base->sp_val + base->sp_off[i], entries(base, i) * sizeof(float));
	out_put(o, a->sp_val, a->sp_len * sizeof(float));
	out_at(o, l.post_terms);
	merge_postings(o, base, keep, remap, a, (uint32_t)nk, TERMS);
	out_at(o, l.post_off);
	merge_postings(o, base, keep, remap, a, (uint32_t)nk, OFFSETS);
	out_at(o, l.post_rows);
	merge_postings(o, base, keep, remap, a, (uint32_t)nk, ROWS);
	out_at(o, l.post_w);
	merge_postings(o, base, keep, remap, a, (uint32_t)nk, WEIGHTS);
	out_at(o, l.length);
	out_flush(o);
	if (o->failed || o->pos != l.length || fsync(o->fd) < 0) {
		rc = fs_fail(e, FS_EUNAVAIL, "cannot write %s: %s", tmp, o->failed ? strerror(errno) : "short file");
		close(o->fd);
		unlink(tmp);
		goto out;
	}
	if (close(o->fd) < 0 || rename(tmp, path) < 0) {
		rc = fs_fail(e, FS_EUNAVAIL, "cannot put %s in place: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	/* the rename itself survives a crash once the folder is synced */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	free(o);
	free(remap);
	vindex_release(&none);
	return rc;
}

int vindex_peek(const char *path, struct vindex_label *label)
{
	struct vix_header h;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t got = pread(fd, &h, sizeof(h), 0);
	close(fd);
	if (got != (ssize_t)sizeof(h) || header_problem(&h))
		return -1;
	label->generation = h.generation;
	label->epoch = h.epoch;
	label->stamp = h.stamp;
	return 0;
}

int vindex_map(struct vindex *ix, const char *path, size_t dims, struct vindex_label *label, struct fs_error *e)
{
	struct stat st;
	struct vix_header h;
	struct vix_layout l;
	memset(ix, 0, sizeof(*ix));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fs_fail(e, errno == ENOENT ? FS_ENOTFOUND : FS_EUNAVAIL, "cannot open %s: %s", path,
			       strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size < VIX_HEADER) {
		close(fd);
		return fs_fail(e, FS_EINVAL, "%s: not a vector index (too short)", path);
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return fs_fail(e, FS_EUNAVAIL, "cannot map %s: %s", path, strerror(errno));
	memcpy(&h, map, sizeof(h));
	const char *why = header_problem(&h);
	if (!why && h.dims != dims)
		why = "vectors of another size";
	if (!why && (layout(h.dims, h.n, h.sp_len, h.nterms, &l) < 0 || h.length != l.length ||
		     (uint64_t)st.st_size != l.length))
		why = "its length does not match its header (a partial or damaged file)";
	if (why) {
		munmap(map, (size_t)st.st_size);
		return fs_fail(e, FS_EINVAL, "%s: %s", path, why);
	}
	char *base = map;
	ix->dims = dims;
	ix->n = ix->cap = (size_t)h.n;
	ix->sp_len = ix->sp_cap = (size_t)h.sp_len;
	ix->post_nterms = (size_t)h.nterms;
	ix->vecs = (float *)(void *)(base + l.vecs);
	ix->codes = (int8_t *)(void *)(base + l.codes);
	ix->scales = (float *)(void *)(base + l.scales);
	ix->chunk_ids = (char(*)[37])(void *)(base + l.chunk_ids);
	ix->doc_ids = (char(*)[37])(void *)(base + l.doc_ids);
	ix->seq = (uint64_t *)(void *)(base + l.seq);
	ix->sp_off = (uint64_t *)(void *)(base + l.sp_off);
	ix->sp_idx = (uint32_t *)(void *)(base + l.sp_idx);
	ix->sp_val = (float *)(void *)(base + l.sp_val);
	ix->post_terms = (uint32_t *)(void *)(base + l.post_terms);
	ix->post_off = (uint64_t *)(void *)(base + l.post_off);
	ix->post_rows = (uint32_t *)(void *)(base + l.post_rows);
	ix->post_w = (float *)(void *)(base + l.post_w);
	ix->post_ready = 1;
	ix->map = map;
	ix->map_len = (size_t)st.st_size;
	/* offsets out of bounds would send a search outside the mapping: check them (rows and terms, not entries) */
	int bad = ix->sp_off[0] != 0 || ix->sp_off[ix->n] != ix->sp_len || ix->post_off[0] != 0 ||
		  ix->post_off[ix->post_nterms] != ix->sp_len;
	for (size_t i = 0; i < ix->n && !bad; i++)
		bad = ix->sp_off[i] > ix->sp_off[i + 1] || !memchr(ix->chunk_ids[i], 0, 37) || !memchr(ix->doc_ids[i], 0, 37);
	for (size_t i = 0; i < ix->post_nterms && !bad; i++)
		bad = ix->post_off[i] > ix->post_off[i + 1];
	if (bad) {
		vindex_release(ix);
		return fs_fail(e, FS_EINVAL, "%s: damaged vector index (offsets out of order)", path);
	}
	label->generation = h.generation;
	label->epoch = h.epoch;
	label->stamp = h.stamp;
	return 0;
}
