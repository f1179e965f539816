/* JSON field readers (jfield.h). */
#include "core/jfield.h"

#include <string.h>

#include "core/util.h"
#include "core/banned.h"

int jfield_text(json_t *obj, const char *name, size_t min_chars, size_t max_chars, const char **out,
		struct fs_error *e)
{
	json_t *v = json_object_get(obj, name);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fs_fail(e, FS_EINVAL, "%s must be a string of %zu to %zu characters", name, min_chars, max_chars);
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (memchr(s, '\0', len))
		return fs_fail(e, FS_EINVAL, "%s must not hold a NUL character", name);
	size_t n = util_utf8_chars(s, len);
	if (n > max_chars)
		return fs_fail(e, FS_EINVAL, "%s is too long: %zu characters, at most %zu", name, n, max_chars);
	if (n < min_chars)
		return fs_fail(e, FS_EINVAL, "%s is too short: %zu characters, at least %zu", name, n, min_chars);
	*out = s;
	return 1;
}

int jfield_int(json_t *obj, const char *name, long long min, long long max, long long *out, struct fs_error *e)
{
	json_t *v = json_object_get(obj, name);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return fs_fail(e, FS_EINVAL, "%s must be an integer from %lld to %lld", name, min, max);
	*out = json_integer_value(v);
	return 1;
}

int jfield_number(json_t *obj, const char *name, double min, double max, double *out, struct fs_error *e)
{
	json_t *v = json_object_get(obj, name);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v) || !(json_number_value(v) >= min && json_number_value(v) <= max))
		return fs_fail(e, FS_EINVAL, "%s must be a number from %g to %g", name, min, max);
	*out = json_number_value(v);
	return 1;
}

int jfield_bool(json_t *obj, const char *name, int *out, struct fs_error *e)
{
	json_t *v = json_object_get(obj, name);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return fs_fail(e, FS_EINVAL, "%s must be true or false", name);
	*out = json_is_true(v);
	return 1;
}
