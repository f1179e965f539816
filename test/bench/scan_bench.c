/* scan-bench: times vscan_topk (the embedded vector store's exact scan) over a file of vectors, one query at a
 * time on one thread, for the search benchmark's comparison with FAISS (test/bench/search.py).
 *
 * usage: scan-bench [-q] [-k K] [-r REPEAT] [-o IDS_FILE] DIMS ROWS_FILE QUERIES_FILE
 * The files hold float32 vectors of DIMS each, little-endian, back to back. Prints one line:
 *   rows=N dims=D queries=Q k=K repeat=R ms_per_query=X
 * and with -o writes each query's top-k row numbers, best first, one query per line. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vstore/vscan.h"

#include "core/banned.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "scan-bench reads little-endian float32 as is"
#endif

/* Reads a whole file of float32 vectors of dims each into 64-byte-aligned memory (the caller frees *out). */
static int read_vectors(const char *path, size_t dims, float **out, size_t *n)
{
	FILE *f = fopen(path, "rb");
	float *v = NULL;
	long size;
	int rc = -EINVAL;

	if (!f) {
		fprintf(stderr, "scan-bench: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "scan-bench: %s: cannot find its size\n", path);
		goto out;
	}
	if (size == 0 || (size_t)size % (dims * sizeof(float)) != 0) {
		fprintf(stderr, "scan-bench: %s: %ld bytes is not a whole number of %zu-float vectors\n", path, size,
			dims);
		goto out;
	}
	v = aligned_alloc(64, ((size_t)size + 63) / 64 * 64);
	if (!v)
		abort();
	if (fread(v, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "scan-bench: %s: short read\n", path);
		free(v);
		v = NULL;
		goto out;
	}
	*out = v;
	*n = (size_t)size / (dims * sizeof(float));
	rc = 0;
out:
	fclose(f);
	return rc;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void usage(void)
{
	fprintf(stderr, "usage: scan-bench [-q] [-k K] [-r REPEAT] [-o IDS_FILE] DIMS ROWS_FILE QUERIES_FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	size_t k = 10, dims, nrows = 0, nq = 0;
	long repeat = 3;
	const char *ids_path = NULL;
	float *rows = NULL, *queries = NULL, *scores = NULL;
	uint32_t *ids = NULL;
	double best = 0;
	volatile float sink = 0; /* keeps the scan from being optimised away */
	int opt, rc = 1, q8 = 0;
	int8_t *codes = NULL;
	float *scales = NULL;

	while ((opt = getopt(argc, argv, "k:r:o:q")) != -1) {
		switch (opt) {
		case 'q': q8 = 1; break;
		case 'k': k = strtoul(optarg, NULL, 10); break;
		case 'r': repeat = strtol(optarg, NULL, 10); break;
		case 'o': ids_path = optarg; break;
		default: usage();
		}
	}
	if (argc - optind != 3 || k == 0 || k > 10000 || repeat < 1)
		usage();
	dims = strtoul(argv[optind], NULL, 10);
	if (dims == 0 || dims > 65536)
		usage();
	if (read_vectors(argv[optind + 1], dims, &rows, &nrows) < 0 ||
	    read_vectors(argv[optind + 2], dims, &queries, &nq) < 0)
		goto out;
	if (q8) { /* the int8 first pass with exact rescoring (vscan_topk_q8), as the embedded store runs it */
		codes = malloc(nrows * dims);
		scales = malloc(nrows * sizeof(*scales));
		if (!codes || !scales)
			abort();
		for (size_t i = 0; i < nrows; i++)
			vscan_quantize(rows + i * dims, dims, codes + i * dims, &scales[i]);
	}
	ids = calloc(nq * k, sizeof(*ids));
	scores = calloc(nq * k, sizeof(*scores));
	if (!ids || !scores)
		abort();

	/* The best of `repeat` passes over all queries: the others include page faults and other tenants. */
	for (long r = 0; r < repeat; r++) {
		double t0 = now_ms();
		for (size_t i = 0; i < nq; i++) {
			size_t got = q8 ? vscan_topk_q8(rows, codes, scales, nrows, dims, queries + i * dims, NULL, k,
							ids + i * k, scores + i * k)
					: vscan_topk(rows, nrows, dims, queries + i * dims, NULL, k, ids + i * k, scores + i * k);
			sink += got ? scores[i * k] : 0;
		}
		double ms = (now_ms() - t0) / (double)nq;
		if (r == 0 || ms < best)
			best = ms;
	}
	printf("rows=%zu dims=%zu queries=%zu k=%zu repeat=%ld scan=%s ms_per_query=%.4f\n", nrows, dims, nq, k, repeat,
	       q8 ? "int8+rescore" : "float32", best);

	if (ids_path) {
		FILE *f = fopen(ids_path, "w");
		if (!f) {
			fprintf(stderr, "scan-bench: %s: %s\n", ids_path, strerror(errno));
			goto out;
		}
		for (size_t i = 0; i < nq; i++)
			for (size_t j = 0; j < k; j++)
				fprintf(f, "%u%c", ids[i * k + j], j + 1 < k ? ' ' : '\n');
		if (fclose(f) != 0) {
			fprintf(stderr, "scan-bench: %s: write failed\n", ids_path);
			goto out;
		}
	}
	rc = 0;
out:
	free(codes);
	free(scales);
	free(rows);
	free(queries);
	free(ids);
	free(scores);
	return rc;
}
