/* Registries of pluggable parts (STYLE.md 3): a part's backends are a list of ops tables, each of which starts
 * with its configuration name (const char *name as its first member). One helper finds a name in such a list
 * and says which names it knows, so every part answers an unknown name the same way. */
#ifndef FAQSURE_REGISTRY_H
#define FAQSURE_REGISTRY_H

#include <stddef.h>

#include "core/err.h"

/* The ops table of list (n entries) named name, or NULL (name NULL included). */
const void *registry_find(const void *const *list, size_t n, const char *name);
/* Its index in list, or -1. */
int registry_index(const void *const *list, size_t n, const char *name);
/* FS_EINVAL "unknown <what> '<name>' (known: a, b)". */
int registry_unknown(const void *const *list, size_t n, const char *what, const char *name, struct fs_error *e);

#endif
