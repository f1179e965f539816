/* An in-memory zip archive, for sniffing (is it a DOCX?) and for the DOCX reader. */
#include "internal.h"

#include "core/banned.h"

zip_t *extract_zip_from_memory(const void *data, size_t len, int *zerr)
{
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
	zip_t *za = NULL;
	if (src) {
		za = zip_open_from_source(src, ZIP_RDONLY, &ze);
		if (!za)
			zip_source_free(src);
	}
	if (zerr)
		*zerr = zip_error_code_zip(&ze);
	zip_error_fini(&ze);
	return za;
}
