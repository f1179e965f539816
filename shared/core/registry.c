/* Registries of pluggable parts (registry.h). */
#include "core/registry.h"

#include <string.h>

#include "core/buf.h"
#include "core/banned.h"

/* The name every ops table starts with. */
static const char *name_of(const void *ops)
{
	return *(const char *const *)ops;
}

int registry_index(const void *const *list, size_t n, const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (!strcmp(name, name_of(list[i])))
			return (int)i;
	return -1;
}

const void *registry_find(const void *const *list, size_t n, const char *name)
{
	int i = registry_index(list, n, name);
	return i < 0 ? NULL : list[i];
}

int registry_unknown(const void *const *list, size_t n, const char *what, const char *name, struct fs_error *e)
{
	struct buf known;
	buf_init(&known, BUF_NO_LIMIT);
	for (size_t i = 0; i < n; i++)
		buf_addf(&known, "%s%s", i ? ", " : "", name_of(list[i]));
	int rc = fs_fail(e, FS_EINVAL, "unknown %s '%s' (known: %s)", what, name ? name : "", buf_str(&known));
	buf_release(&known);
	return rc;
}
