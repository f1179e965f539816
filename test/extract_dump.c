/* extract-dump: prints what extraction and chunking make of files, for reading by eye and for grepping
 * leftovers (footnote digits, bullet glyphs, "]()", table pipes). Usage: extract-dump [--sections] FILE...
 * Default output is the chunks ("--- [section] p.N" then the text); --sections prints the extracted sections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "extract/extract.h"
#include "ingest/chunk.h"
#include "core/banned.h"

static int dump(const char *path, int sections)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char block[65536], mime[128];
	size_t n;
	struct extract_doc d;
	struct fs_error e = { 0, "" };
	struct chunk *c = NULL;
	size_t nc = 0;

	if (!f) {
		fprintf(stderr, "%s: cannot open\n", path);
		return -1;
	}
	buf_init(&b, BUF_NO_LIMIT);
	while ((n = fread(block, 1, sizeof(block), f)) > 0)
		buf_add(&b, block, n);
	fclose(f);
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	enum extract_kind k = extract_detect(b.ptr ? b.ptr : "", b.len, name, mime, sizeof(mime));
	if (extract_document(k, b.ptr ? b.ptr : "", b.len, NULL, &d, &e) < 0) {
		fprintf(stderr, "%s: %s\n", path, e.msg);
		buf_release(&b);
		return -1;
	}
	printf("=== %s (%s)\n", name, extract_kind_mime(k));
	if (sections) {
		for (size_t i = 0; i < d.nsections; i++)
			printf("--- [%s] p.%d%s%s\n%s\n", d.sections[i].heading, d.sections[i].page,
			       d.sections[i].question ? " Q: " : "", d.sections[i].question ? d.sections[i].question : "",
			       d.sections[i].text);
	} else if (chunk_document(&d, NULL, &c, &nc, &e) == 0) {
		for (size_t i = 0; i < nc; i++)
			printf("--- [%s] p.%d\n%s\n", c[i].section, c[i].page, c[i].text);
		chunk_list_free(c, nc);
	}
	extract_doc_release(&d);
	buf_release(&b);
	return 0;
}

int main(int argc, char **argv)
{
	int sections = 0, rc = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--sections") == 0)
			sections = 1;
		else if (dump(argv[i], sections) < 0)
			rc = 1;
	}
	return rc;
}
