/* Growable byte buffer with a hard size cap (struct buf), and a borrowed pointer+length view (struct slice). */
#ifndef FAQSURE_BUF_H
#define FAQSURE_BUF_H

#include <stddef.h>
#include <stdarg.h>

/* Owns its memory. Always NUL-terminated after the first add. Adds that would grow it past max fail with
 * -1 and leave it unchanged; running out of memory aborts (the web server restarts the process). */
struct buf {
	char *ptr;
	size_t len;
	size_t cap;
	size_t max;
};

/* Never owns: points into memory someone else keeps alive. */
struct slice {
	const char *ptr;
	size_t len;
};

#define BUF_NO_LIMIT ((size_t)-1)

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_adds(struct buf *b, const char *s);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Hands the NUL-terminated contents to the caller (free() them) and leaves b empty. */
char *buf_take(struct buf *b, size_t *len);
/* The contents as a C string; "" for an empty buffer. */
const char *buf_str(const struct buf *b);

struct slice slice_from(const char *s);
int slice_eq(struct slice a, const char *s);

/* Allocation that aborts on failure. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
