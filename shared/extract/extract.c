/* Text extraction's entry points: the table of readers, one per format, and the dispatch that runs the reader
 * for a kind through one section builder. Each reader lives in its own file in this folder. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/banned.h"

/* Indexed by kind; EXTRACT_NONE has no reader. decode_text readers get UTF-8 text (text_decode), the others the
 * file's bytes. What a kind is called and its MIME type are in extract_types (detect.c), which programs that only
 * sniff link without the readers. */
static const struct extract_reader readers[] = {
	[EXTRACT_PDF] = { .kind = EXTRACT_PDF, .type = &extract_types[EXTRACT_PDF], .read = extract_pdf_read },
	[EXTRACT_DOCX] = { .kind = EXTRACT_DOCX, .type = &extract_types[EXTRACT_DOCX], .read = extract_docx_read },
	[EXTRACT_HTML] = { .kind = EXTRACT_HTML, .type = &extract_types[EXTRACT_HTML], .read = extract_html_read },
	[EXTRACT_MARKDOWN] = { .kind = EXTRACT_MARKDOWN,
			       .type = &extract_types[EXTRACT_MARKDOWN],
			       .decode_text = 1,
			       .read = extract_markdown_read },
	[EXTRACT_TEXT] = { .kind = EXTRACT_TEXT,
			   .type = &extract_types[EXTRACT_TEXT],
			   .decode_text = 1,
			   .read = extract_text_read },
	[EXTRACT_CSV] = { .kind = EXTRACT_CSV,
			  .type = &extract_types[EXTRACT_CSV],
			  .decode_text = 1,
			  .read = extract_csv_read },
};

/* The reader for kind, or NULL (EXTRACT_NONE, or a value outside the enum). */
static const struct extract_reader *reader_for(enum extract_kind kind)
{
	size_t k = (size_t)kind;
	if (k >= sizeof(readers) / sizeof(readers[0]) || !readers[k].read)
		return NULL;
	return &readers[k];
}

int extract_document(enum extract_kind kind, const void *data, size_t len, const struct extract_limits *lim,
		     struct extract_doc *out, struct fs_error *e)
{
	const struct extract_reader *r = reader_for(kind);
	struct extract_limits def;
	struct builder b;
	struct buf text;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	buf_init(&text, BUF_NO_LIMIT);
	if (!lim) {
		extract_limits_default(&def);
		lim = &def;
	}
	out->metadata = json_object();
	bld_init(&b, out, lim, e);
	if (!r) {
		rc = fs_fail(e, FS_EUNSUPPORTED, "unsupported file type");
		goto out;
	}
	if (len == 0) {
		rc = fs_fail(e, FS_EINVAL, "the file holds no text (it is empty)");
		goto out;
	}
	if (r->decode_text) {
		text_decode(data, len, &text);
		rc = r->read(buf_str(&text), text.len, lim, &b);
	} else {
		rc = r->read(data, len, lim, &b);
	}
	if (rc < 0)
		goto out;
	if ((rc = bld_orphan(&b, 0)) < 0)
		goto out;
	if (out->nsections == 0) {
		rc = fs_fail(e, FS_EINVAL, "the file holds no text");
		goto out;
	}
	json_t *title = json_object_get(out->metadata, "title");
	if (json_is_string(title))
		out->title = xstrdup(json_string_value(title));
out:
	if (rc < 0)
		extract_doc_release(out);
	bld_release(&b);
	buf_release(&text);
	return rc;
}

void extract_doc_release(struct extract_doc *doc)
{
	for (size_t i = 0; i < doc->nsections; i++) {
		free(doc->sections[i].heading);
		free(doc->sections[i].text);
		free(doc->sections[i].question);
	}
	free(doc->sections);
	json_decref(doc->metadata);
	free(doc->title);
	memset(doc, 0, sizeof(*doc));
}
