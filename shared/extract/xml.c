/* libxml2 set-up shared by the DOCX and HTML readers. libxml2 reports some errors (encoding conversion, I/O)
 * without a parser context, through its process-wide generic handler, which prints to stderr. While a document
 * is parsed that handler is a silent one; the previous handler is put back afterwards. */
#include "internal.h"

#include <libxml/parser.h>

#include "core/banned.h"

static void xml_silent(void *ctx, const char *msg, ...)
{
	(void)ctx, (void)msg;
}

void xml_quiet_begin(struct xml_quiet *q)
{
	xmlInitParser();
	q->func = xmlGenericError;
	q->ctx = xmlGenericErrorContext;
	xmlSetGenericErrorFunc(NULL, xml_silent);
}

void xml_quiet_end(const struct xml_quiet *q)
{
	xmlSetGenericErrorFunc(q->ctx, q->func);
}
