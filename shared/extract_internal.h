/* Shared between extract.c (the readers) and extract_detect.c (sniffing); not part of the extract contract. */
#ifndef FAQSURE_EXTRACT_INTERNAL_H
#define FAQSURE_EXTRACT_INTERNAL_H

#include <stddef.h>

#include <zip.h>

/* Opens an in-memory zip; NULL when the bytes are not one. Close with zip_discard. */
zip_t *extract_zip_from_memory(const void *data, size_t len, int *zerr);
int extract_is_markdown_name(const char *name);

#endif
