/* Readers of one field of a JSON object (a request body, an agent's settings): each checks the field's type and
 * range and says in its error which limit it applies. Each returns 1 when the field is present and valid, 0 when
 * it is absent or null, and FS_EINVAL naming the field otherwise. */
#ifndef FAQSURE_JFIELD_H
#define FAQSURE_JFIELD_H

#include <stddef.h>

#include <jansson.h>

#include "core/err.h"

/* A string of min_chars to max_chars characters (code points, as the utf8mb4 columns count them), without NUL.
 * *out points into obj. */
int jfield_text(json_t *obj, const char *name, size_t min_chars, size_t max_chars, const char **out,
		struct fs_error *e);
int jfield_int(json_t *obj, const char *name, long long min, long long max, long long *out, struct fs_error *e);
int jfield_number(json_t *obj, const char *name, double min, double max, double *out, struct fs_error *e);
int jfield_bool(json_t *obj, const char *name, int *out, struct fs_error *e);

#endif
