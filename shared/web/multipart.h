/* A streaming multipart/form-data parser (RFC 7578): bytes are pushed in as they arrive, parts are handed to
 * callbacks piece by piece, and nothing but one part's headers (capped) and a boundary's worth of look-behind is
 * ever buffered here. What the callbacks keep, and how much, is theirs to cap. */
#ifndef FAQSURE_MULTIPART_H
#define FAQSURE_MULTIPART_H

#include <stddef.h>

#include "core/err.h"

#define MULTIPART_MAX_HEADER_BYTES 16384
#define MULTIPART_MAX_BOUNDARY 70

struct multipart_handler {
	/* A part starts. name and filename (NULL when the part has none) are decoded; content_type may be NULL. */
	int (*part_begin)(void *ctx, const char *name, const char *filename, const char *content_type,
			  struct fs_error *e);
	int (*part_data)(void *ctx, const char *data, size_t len, struct fs_error *e);
	int (*part_end)(void *ctx, struct fs_error *e);
};

struct multipart;

/* The boundary parameter of a multipart/form-data Content-Type into out; FS_EINVAL when the type is another or
 * has no usable boundary. */
int multipart_boundary(const char *content_type, char *out, size_t size, struct fs_error *e);

struct multipart *multipart_new(const char *boundary, const struct multipart_handler *h, void *ctx);
/* Feeds the next bytes of the body. Malformed input gives FS_EINVAL; a callback's error is passed through. */
int multipart_feed(struct multipart *mp, const char *data, size_t len, struct fs_error *e);
/* The body has ended: FS_EINVAL unless the closing boundary was seen. */
int multipart_finish(struct multipart *mp, struct fs_error *e);
void multipart_free(struct multipart *mp);

/* The last path component of a client-supplied file name, without control characters, at most 255 bytes;
 * "upload" when nothing is left. Malloc'd. */
char *multipart_safe_filename(const char *name);

#endif
