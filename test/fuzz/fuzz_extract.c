/* libFuzzer target for extraction: type detection, then every reader (PDF, DOCX, HTML, Markdown, text, CSV) on
 * the same bytes with small limits, so hostile input must fail with a reason and leave nothing behind. Built
 * with clang -fsanitize=fuzzer,address,undefined like fuzz_parsers (see `make fuzz`). */
#include <stdint.h>
#include <stdlib.h>

#include "extract/extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "upload.md", "upload.csv", "upload.txt", NULL };
	struct extract_limits lim = {
		.max_pages = 8,
		.max_text_bytes = 256 * 1024,
		.max_unzipped_bytes = 4 * 1024 * 1024,
		.max_zip_entries = 64,
		.max_xml_depth = 64,
	};
	char mime[128];

	extract_detect(data, size, names[size % 4], mime, sizeof(mime));
	for (int k = EXTRACT_PDF; k <= EXTRACT_CSV; k++) {
		struct extract_doc doc;
		struct fs_error e;
		if (extract_document((enum extract_kind)k, data, size, &lim, &doc, &e) == 0)
			extract_doc_release(&doc);
	}
	return 0;
}
