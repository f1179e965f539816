/* extract: type detection and text extraction over the fixtures in test/data/extract (made by make-fixtures.py
 * there): what each format yields, the limits, and the broken, encrypted, empty and hostile files. Run from the
 * repository root. The real documents in ../shared/docs are read too when that directory is present. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/buf.h"
#include "extract/extract.h"

#define FIXTURES "test/data/extract/"
#define SHARED_DOCS "../shared/docs/"
#define DOCX_MIME "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

static char *load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[65536];
	size_t n;
	*len = 0;
	if (!f) {
		printf("    cannot open %s (run the tests from the repository root)\n", path);
		check_failed = 1;
		return NULL;
	}
	buf_init(&b, BUF_NO_LIMIT);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_take(&b, len);
}

static char *fixture(const char *name, size_t *len)
{
	char path[256];
	snprintf(path, sizeof(path), FIXTURES "%s", name);
	return load(path, len);
}

/* Well-formed UTF-8: no overlongs, surrogates or values past U+10FFFF. */
static int utf8_ok(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	while (*u) {
		unsigned c = *u;
		int k;
		if (c < 0x80)
			k = 0;
		else if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3;
		else
			return 0;
		unsigned long cp = k == 0 ? c : c & (0x3f >> k);
		for (int i = 1; i <= k; i++) {
			if ((u[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (u[i] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		u += k + 1;
	}
	return 1;
}

/* What every successful extraction promises: sections with owned, valid UTF-8 strings, text or a question in
 * each, a metadata object, and no control characters but newline and tab. */
static void check_doc_sane(const char *what, const struct extract_doc *d)
{
	CHECK(d->nsections > 0);
	CHECK(json_is_object(d->metadata));
	for (size_t i = 0; i < d->nsections; i++) {
		const struct extract_section *s = &d->sections[i];
		if (!s->heading || !s->text || !utf8_ok(s->heading) || !utf8_ok(s->text) ||
		    (s->question && !utf8_ok(s->question)) || (!s->text[0] && !(s->question && s->question[0]))) {
			printf("    %s: section %zu is not clean UTF-8 or is empty\n", what, i);
			check_failed = 1;
			return;
		}
		for (const char *p = s->text; *p; p++)
			if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') {
				printf("    %s: section %zu holds control character %d\n", what, i, *p);
				check_failed = 1;
				return;
			}
		CHECK(!strchr(s->heading, '\n'));
	}
}

/* ---- detection ------------------------------------------------------------------------------------------- */

static const struct {
	const char *file;
	const char *name; /* the client's file name */
	enum extract_kind kind;
	const char *mime; /* as libmagic 5.44 names it */
} detect_table[] = {
	{ "two-pages.pdf", "policy.pdf", EXTRACT_PDF, "application/pdf" },
	{ "two-pages.pdf", "policy.md", EXTRACT_PDF, "application/pdf" }, /* the name never overrides content */
	{ "encrypted.pdf", "x.pdf", EXTRACT_PDF, "application/pdf" },
	{ "handbook.docx", "handbook.docx", EXTRACT_DOCX, DOCX_MIME },
	{ "handbook.docx", NULL, EXTRACT_DOCX, DOCX_MIME },
	/* libmagic says only application/zip; word/document.xml inside makes it a DOCX */
	{ "zip-first.docx", "zip-first.docx", EXTRACT_DOCX, DOCX_MIME },
	{ "not-word.zip", "report.docx", EXTRACT_NONE, "application/zip" },
	{ "page.html", "page.html", EXTRACT_HTML, "text/html" },
	{ "page.html", "page.md", EXTRACT_HTML, "text/html" }, /* a real page starts with a tag */
	{ "manual.xhtml", "manual.html", EXTRACT_HTML, "text/xml" },
	/* Markdown with inline HTML is sniffed as HTML; the name tells */
	{ "guide.md", "guide.md", EXTRACT_MARKDOWN, "text/html" },
	{ "notes.txt", "notes.txt", EXTRACT_TEXT, "text/plain" },
	{ "notes.txt", "NOTES.MD", EXTRACT_MARKDOWN, "text/plain" },
	{ "notes.txt", "notes.markdown", EXTRACT_MARKDOWN, "text/plain" },
	{ "notes.txt", NULL, EXTRACT_TEXT, "text/plain" },
	{ "faq.csv", "faq.csv", EXTRACT_CSV, "text/plain" },
	{ "faq.csv", "faq.txt", EXTRACT_TEXT, "text/plain" },
	{ "faq-utf16.csv", "faq.CSV", EXTRACT_CSV, "text/plain" },
	{ "no-qa.csv", "people.csv", EXTRACT_CSV, "text/csv" },
	{ "no-qa.csv", "upload", EXTRACT_CSV, "text/csv" },
	{ "latin1.txt", "latin1.txt", EXTRACT_TEXT, "text/plain" },
	{ "random.bin", "random.pdf", EXTRACT_NONE, "application/octet-stream" },
	{ "pixel.png", "pixel.md", EXTRACT_NONE, "image/png" },
	{ "empty.txt", "empty.txt", EXTRACT_NONE, "application/x-empty" },
};

static void extract_detects_types(void)
{
	for (size_t i = 0; i < sizeof(detect_table) / sizeof(detect_table[0]); i++) {
		size_t len;
		char *data = fixture(detect_table[i].file, &len);
		char mime[128] = "unset";
		enum extract_kind k = extract_detect(data ? data : "", data ? len : 0, detect_table[i].name, mime,
						     sizeof(mime));
		if (k != detect_table[i].kind || strcmp(mime, detect_table[i].mime) != 0) {
			printf("    %s named %s: kind %d, mime %s; expected kind %d, mime %s\n", detect_table[i].file,
			       detect_table[i].name ? detect_table[i].name : "(none)", k, mime, detect_table[i].kind,
			       detect_table[i].mime);
			check_failed = 1;
		}
		free(data);
	}
	CHECK_STR(extract_kind_mime(EXTRACT_MARKDOWN), "text/markdown");
	CHECK_STR(extract_kind_mime(EXTRACT_DOCX), DOCX_MIME);
	CHECK_STR(extract_kind_mime(EXTRACT_NONE), "application/octet-stream");
}

/* ---- successful extraction ------------------------------------------------------------------------------- */

struct want_section {
	int index;           /* which section; -1 = any section */
	const char *heading; /* exact heading path, or NULL */
	const char *text;    /* substring of the text, or NULL */
	const char *question; /* exact question, or NULL */
	int page;            /* expected page, or -1 */
};

struct want_meta {
	const char *key, *value;
};

static const struct {
	const char *file;
	enum extract_kind kind;
	size_t nsections; /* 0 = not checked */
	const char *title;
	struct want_section sections[8];
	const char *absent[10]; /* in no heading or text */
	struct want_meta meta[4];
} extract_table[] = {
	{ "two-pages.pdf", EXTRACT_PDF, 2, "Company Travel Policy",
	  { { 0, "Travel Policy", "Employees may book economy flights for any trip shorter than six hours.", NULL, 1 },
	    /* paragraphs from the vertical gap; a word broken at the margin is joined */
	    { 0, NULL,
	      "approval.\n\nReceipts must be kept for seven years. The daily allowance is reimbursed within", NULL,
	      1 },
	    { 1, "Per Diem", "Meals are paid at the GSA per diem rate", NULL, 2 } },
	  { "reim-", "\n1\n" },
	  { { "author", "Jane Doe" }, { "title", "Company Travel Policy" } } },
	/* an owner password only restricts printing; anyone may open and read it */
	{ "owner-password.pdf", EXTRACT_PDF, 2, NULL, { { 1, "Per Diem", "per diem rate", NULL, 2 } }, { NULL },
	  { { NULL } } },
	{ "handbook.docx", EXTRACT_DOCX, 6, "Employee Handbook",
	  { { 0, "Employee Handbook 2024", "Welcome to the company.", NULL, 0 },
	    /* tab → space, w:br → newline; heading styles found by name through localized ids */
	    { 1, "Employee Handbook 2024 > Leave > Annual leave",
	      "Full-time staff get 25 days of annual leave.\nUnused days expire in March.", NULL, 0 },
	    /* a style based on "heading 2" is a level-2 heading; tables come row by row, each row carrying the
	     * header row's labels */
	    { 2, "Employee Handbook 2024 > Leave > Sick leave",
	      "Days off sick: 1-3; Certificate needed: No\nDays off sick: 4 or more; Certificate needed: Yes", NULL, 0 },
	    { 3, "Employee Handbook 2024 > Expenses", "Boxed tip: keep every receipt.", NULL, 0 },
	    /* a short all-bold paragraph is a heading by its looks */
	    { 4, "Employee Handbook 2024 > Expenses > Mileage", "Cars are paid at 30 cents per kilometre.", NULL, 0 },
	    /* notes come last under a heading of their own; empty endnotes give nothing */
	    { 5, "Footnotes", "Leave rules follow the 2024 agreement.", NULL, 0 } },
	  { "HIDDEN DRAFT NOTE", "DELETED TEXT", "HYPERLINK", "receipt.\n\nBoxed", "Endnotes" },
	  { { "author", "HR Team" }, { "title", "Employee Handbook" } } },
	{ "zip-first.docx", EXTRACT_DOCX, 1, NULL, { { 0, "", "Zipped in another order.", NULL, 0 } }, { NULL },
	  { { NULL } } },
	{ "page.html", EXTRACT_HTML, 0, "Help Centre & FAQ",
	  { { -1, "Help Centre", "Welcome to the help centre. Read on.", NULL, 0 },
	    { -1, "Help Centre > Accounts > How do I reset my password?",
	      "Open Settings, then choose Reset.\nYou will get an e-mail.", NULL, 0 },
	    { -1, "Help Centre > Accounts > Can I have two accounts?", "One per person.\nTeams use organisations.",
	      NULL, 0 },
	    { -1, "Help Centre > Billing", "Plan: Basic; Price: 5 €", NULL, 0 },
	    { -1, "Help Centre > Billing", "\n  indented\n    code", NULL, 0 }, /* <pre> keeps its layout */
	    { -1, "Help Centre > Billing", "Café crème ☃ ©", NULL, 0 } },
	  { "SCRIPT TEXT", "STYLE TEXT", "NOSCRIPT TEXT", "TEMPLATE TEXT", "HIDDEN TEXT", "INVISIBLE TEXT",
	    "COMMENT TEXT", "var leaked", "&nbsp;" },
	  { { "author", "Support Team" }, { "description", "Answers to common questions" } } },
	{ "manual.xhtml", EXTRACT_HTML, 1, "Server Manual",
	  { { 0, "Server Manual > Installing", "Run make install as root.", NULL, 0 } }, { "¶" }, { { NULL } } },
	/* the HTML parser reads no DTD: the entities stay unexpanded references, the subset is not text */
	{ "billion-laughs.xhtml", EXTRACT_HTML, 1, "Laughs", { { 0, "", "Before &lol9; after.", NULL, 0 } },
	  { "lollol", "ENTITY" }, { { NULL } } },
	{ "xxe.xhtml", EXTRACT_HTML, 1, NULL, { { 0, "", "Secret: &xxe;", NULL, 0 } }, { "root:" }, { { NULL } } },
	{ "guide.md", EXTRACT_MARKDOWN, 4, "Onboarding Guide",
	  { { 0, "",
	      "Intro paragraph with bold, emphasis, inline code and a link (https://example.com/x).\n"
	      "Second line of the same paragraph; snake_case_names stay.",
	      NULL, 0 },
	    /* inline HTML dropped; a fenced block kept as text, its "#" line no heading */
	    { 1, "Getting started > Laptop",
	      "See the IT page for details.\n\n# this is a shell comment, not a heading\nmake setup", NULL, 0 },
	    { 1, NULL, "make setup\n\nText inside a Liquid block stays; the tags go.", NULL, 0 },
	    /* setext headings; list items read "- item"; a blockquote loses its mark; a table's rows carry their
	     * header */
	    { 2, "Getting started > Accounts", "- Email\n- Chat\n\nQuoted advice: ask questions early.", NULL, 0 },
	    { 2, NULL, "Tool: Chat; Owner: IT", NULL, 0 },
	    { 3, "Office & Facilities > Keys", "Badges open the front door *always*.", NULL, 0 } },
	  { "{%", "alert", "---", "<a", "[ref]", "**", "|" },
	  { { "description", "First week at the company" }, { "owner", "people-team" } } },
	/* text a person would quote: links keep absolute addresses (also across a line break), relative and
	 * template links lose theirs without debris, footnote marks and definitions' labels go, list markers and task
	 * boxes become "- ", table rows carry their header */
	{ "clean.md", EXTRACT_MARKDOWN, 1, NULL,
	  { { 0, "Leave",
	      "Talk with your HR Specialist (https://hr.example.gov/specialist) about\ncombining leave, or read the "
	      "out of office expectations first.\nOpen source code is released each year.",
	      NULL, 0 },
	    { 0, NULL, "- Annual Leave\n- Checked task\n- Open task\n- Plain item with https://example.gov/a autolink",
	      NULL, 0 },
	    { 0, NULL, "Leave type: Annual; Days per year: 26\nLeave type: Sick; Days per year: 13", NULL, 0 },
	    { 0, NULL, "\n\nUnder the pilot program.", NULL, 0 } },
	  { "](", "[]", "[^", "|", "* ", "[x]", "[ ]", "code1", "{%" },
	  { { NULL } } },
	{ "clean.html", EXTRACT_HTML, 1, "Clean",
	  { { 0, "Policy",
	      "Agencies release custom code each year and use Code.gov (https://code.gov/), https://example.gov/x and "
	      "a relative page. Water is H2O and E = mc2 squared.",
	      NULL, 0 },
	    { 0, NULL, "Directive: AllowOverride; Context: directory\nDirective: Options; Context: server config, directory",
	      NULL, 0 },
	    { 0, NULL, "First item\nSecond item", NULL, 0 } },
	  { "code29", "|", "relative/page", "x (https://example.gov/x)" },
	  { { NULL } } },
	/* a footnote mark set small is dropped, a word split at the margin joined, bullet glyphs (a ZapfDingbats
	 * one, WinAnsi's "•") become "- " on lines of their own */
	{ "clean.pdf", EXTRACT_PDF, 1, NULL,
	  { { 0, "Remote access",
	      "Agencies release new custom source code each year.\n\nRead this important notice first.\n"
	      "- You will then be asked for your username.\n- Type in a 4 digit code.",
	      NULL, 1 } },
	  { "code29", "code 29", "\xe2\x80\xa2", "impor-" },
	  { { NULL } } },
	/* a footnote reference leaves no digit, a typed "●" becomes "- ", a header row (w:tblHeader) labels the
	 * rows, a Wingdings mark in a cell reads "yes", a numbered row without header reads "1. ..." */
	{ "clean.docx", EXTRACT_DOCX, 1, NULL,
	  { { 0, "Usability",
	      "Agencies release custom code each year.\n\n- Typed bullet item\n\n"
	      "Consideration: Unmasked text entry; Memorized secrets: yes\n\n"
	      "1. Question \xe2\x80\x93 Should Agile",
	      NULL, 0 } },
	  { "|", "code1" },
	  { { NULL } } },
	/* READMEs are Markdown in all but name: their links keep the address, "* " and "•" items read "- " */
	{ "clean.txt", EXTRACT_TEXT, 1, NULL,
	  { { 0, "",
	      "See the Apache HTTP\nserver project page (https://httpd.apache.org/) and\n"
	      "https://www.openssl.org/source/.\n\n- If you want to build it, read INSTALL.\n- Typed bullet.",
	      NULL, 0 } },
	  { "](", "[" },
	  { { NULL } } },
	{ "notes.txt", EXTRACT_TEXT, 1, NULL,
	  { { 0, "", "Meeting notes\n\nThe budget was approved.\nNext review in May.\n\nAction items follow.", NULL,
	      0 } },
	  { "  " }, { { NULL } } },
	/* Windows-1252 bytes are read as such */
	{ "latin1.txt", EXTRACT_TEXT, 1, NULL, { { 0, "", "Café crème – naïve “quotes”", NULL, 0 } }, { NULL },
	  { { NULL } } },
	/* a few damaged bytes in UTF-8 text become U+FFFD, the rest stays */
	{ "invalid-utf8.txt", EXTRACT_TEXT, 1, NULL,
	  { { 0, "", "Valid é and €, then stray \xef\xbf\xbd bytes and a cut \xef\xbf\xbd.", NULL, 0 } }, { NULL },
	  { { NULL } } },
	/* Q/A pairs written inline become Q/A sections (the question without its marker or number, joined when
	 * wrapped; the answer with the paragraph after it); a "Question –" line with no answer stays text */
	{ "inline-faq.txt", EXTRACT_TEXT, 5, NULL,
	  { { 0, "", "Ordering help\n\nThe question of returns is covered below.", NULL, 0 },
	    { 1, "", "No. Once an order ships it cannot be changed, but you can return it within 30 days.\n\n"
		     "Returns are free for members.", "Can I change an order after it ships?", 0 },
	    { 2, "", "About five business days after we receive the item.",
	      "How long does a refund take for a card payment?", 0 },
	    { 3, "", "Yes, to 40 countries.", "Do you ship abroad?", 0 },
	    { 4, "", "Question \u2013 one without an answer, which stays text.", NULL, 0 } },
	  { "Answer \u2013", "A: ", "3 Answer" }, { { NULL } } },
	/* BOM, CRLF, quoted commas and newlines, doubled quotes, columns in any order, a category column */
	{ "faq.csv", EXTRACT_CSV, 3, NULL,
	  { { 0, "Billing", "Yes, by card or \"invoice\".", "Can I pay later?", 0 },
	    { 1, "Accounts", "Open Settings.\nThen choose Reset.", "How do I reset my password?", 0 },
	    { 2, "", "Anything", "Is a category optional?", 0 } },
	  { "Question without an answer", "An answer without a question", "\r" }, { { NULL } } },
	{ "faq-semicolon.csv", EXTRACT_CSV, 2, NULL,
	  { { 0, "", "Main street 1; floor 2", "Where is the office?", 0 }, { 1, "", "At 9", "When; exactly?", 0 } },
	  { NULL }, { { NULL } } },
	/* what Excel saves as "Unicode text": UTF-16 with a BOM, tab-separated */
	{ "faq-utf16.csv", EXTRACT_CSV, 1, NULL, { { 0, "", "Summer in French.", "What is été?", 0 } }, { NULL },
	  { { NULL } } },
};

static int section_matches(const struct extract_section *s, const struct want_section *w)
{
	return (!w->heading || strcmp(s->heading, w->heading) == 0) && (!w->text || strstr(s->text, w->text)) &&
	       (!w->question || (s->question && strcmp(s->question, w->question) == 0)) &&
	       (w->page < 0 || s->page == w->page);
}

static void print_doc(const struct extract_doc *d)
{
	for (size_t i = 0; i < d->nsections; i++)
		printf("      [%zu] page %d heading \"%s\" question \"%s\"\n%s\n", i, d->sections[i].page,
		       d->sections[i].heading, d->sections[i].question ? d->sections[i].question : "",
		       d->sections[i].text);
}

static void extract_reads_each_format(void)
{
	for (size_t i = 0; i < sizeof(extract_table) / sizeof(extract_table[0]); i++) {
		size_t len;
		const char *file = extract_table[i].file;
		char *data = fixture(file, &len);
		struct extract_doc d;
		struct fs_error e = { 0, "" };
		int failed_before = check_failed;
		check_failed = 0;
		if (!data)
			continue;
		int rc = extract_document(extract_table[i].kind, data, len, NULL, &d, &e);
		if (rc != 0) {
			printf("    %s: failed: %s\n", file, e.msg);
			check_failed = 1;
			free(data);
			continue;
		}
		check_doc_sane(file, &d);
		if (extract_table[i].nsections && d.nsections != extract_table[i].nsections) {
			printf("    %s: %zu sections, expected %zu\n", file, d.nsections, extract_table[i].nsections);
			check_failed = 1;
		}
		if (extract_table[i].title)
			CHECK_STR(d.title, extract_table[i].title);
		for (size_t w = 0; w < 8; w++) {
			const struct want_section *ws = &extract_table[i].sections[w];
			if (!ws->heading && !ws->text && !ws->question)
				break;
			int found = 0;
			for (size_t s = 0; s < d.nsections && !found; s++)
				if ((ws->index < 0 || (size_t)ws->index == s) && section_matches(&d.sections[s], ws))
					found = 1;
			if (!found) {
				printf("    %s: no section %d with heading \"%s\", text containing \"%s\", "
				       "question \"%s\", page %d\n",
				       file, ws->index, ws->heading ? ws->heading : "(any)", ws->text ? ws->text : "",
				       ws->question ? ws->question : "", ws->page);
				check_failed = 1;
			}
		}
		for (size_t a = 0; a < 10 && extract_table[i].absent[a]; a++)
			for (size_t s = 0; s < d.nsections; s++)
				if (strstr(d.sections[s].text, extract_table[i].absent[a]) ||
				    strstr(d.sections[s].heading, extract_table[i].absent[a])) {
					printf("    %s: section %zu holds \"%s\"\n", file, s,
					       extract_table[i].absent[a]);
					check_failed = 1;
				}
		for (size_t m = 0; m < 4 && extract_table[i].meta[m].key; m++)
			CHECK_STR(json_string_value(json_object_get(d.metadata, extract_table[i].meta[m].key)),
				  extract_table[i].meta[m].value);
		if (check_failed)
			print_doc(&d);
		check_failed |= failed_before;
		extract_doc_release(&d);
		free(data);
	}
}

static void extract_markdown_front_matter(void)
{
	size_t len;
	char *data = fixture("guide.md", &len);
	struct extract_doc d;
	struct fs_error e;
	if (!data)
		return;
	CHECK_INT(extract_document(EXTRACT_MARKDOWN, data, len, NULL, &d, &e), 0);
	json_t *tags = json_object_get(d.metadata, "tags");
	CHECK(json_is_array(tags));
	CHECK_INT(json_array_size(tags), 2);
	CHECK_STR(json_string_value(json_array_get(tags, 0)), "onboarding");
	CHECK_STR(json_string_value(json_array_get(tags, 1)), "hr");
	CHECK_STR(json_string_value(json_object_get(d.metadata, "title")), "Onboarding Guide"); /* quotes gone */
	extract_doc_release(&d);
	free(data);
}

static void extract_pdf_pages_and_metadata(void)
{
	size_t len;
	char *data = fixture("two-pages.pdf", &len);
	struct extract_doc d;
	struct fs_error e;
	if (!data)
		return;
	CHECK_INT(extract_document(EXTRACT_PDF, data, len, NULL, &d, &e), 0);
	CHECK_INT(json_integer_value(json_object_get(d.metadata, "pages")), 2);
	extract_doc_release(&d);
	free(data);
}

/* Text straight from memory: NULs and bytes that are not UTF-8 never come out. */
static void extract_cleans_bytes(void)
{
	static const char raw[] = "Tab\there, NUL\0gone, bell\a gone, \xc3\xa9t\xc3\xa9, bad \xc0\xaf overlong, "
				  "surrogate \xed\xa0\x80 end";
	struct extract_doc d;
	struct fs_error e;
	CHECK_INT(extract_document(EXTRACT_TEXT, raw, sizeof(raw) - 1, NULL, &d, &e), 0);
	if (d.nsections == 1) {
		check_doc_sane("raw", &d);
		CHECK_CONTAINS(d.sections[0].text, "NULgone");
		CHECK_CONTAINS(d.sections[0].text, "bell gone");
		CHECK_CONTAINS(d.sections[0].text, "été");
		CHECK(!strstr(d.sections[0].text, "\xc0"));
		CHECK(!strstr(d.sections[0].text, "\xed\xa0"));
	}
	extract_doc_release(&d);

	/* CSV questions go through the same cleaning */
	static const char csv[] = "q,a\n\"Why \xff \xc3\xa9t\xc3\xa9?\",\"Because\x01.\"\n";
	CHECK_INT(extract_document(EXTRACT_CSV, csv, sizeof(csv) - 1, NULL, &d, &e), 0);
	if (d.nsections == 1) {
		check_doc_sane("csv", &d);
		CHECK_STR(d.sections[0].question, "Why \xef\xbf\xbd été?");
		CHECK_STR(d.sections[0].text, "Because.");
	}
	extract_doc_release(&d);
}

/* A "heading" longer than any heading is body text in a heading style: kept whole, as text. */
static void extract_long_heading_is_text(void)
{
	struct buf md;
	struct extract_doc d;
	struct fs_error e;
	buf_init(&md, BUF_NO_LIMIT);
	buf_adds(&md, "# Short\n\n## ");
	for (int i = 0; i < 100; i++)
		buf_adds(&md, "word ");
	buf_adds(&md, "end\n\nBody.\n");
	CHECK_INT(extract_document(EXTRACT_MARKDOWN, md.ptr, md.len, NULL, &d, &e), 0);
	CHECK_INT(d.nsections, 2);
	if (d.nsections == 2) {
		CHECK_STR(d.sections[0].heading, "Short");
		CHECK_CONTAINS(d.sections[0].text, "word word");
		CHECK_CONTAINS(d.sections[0].text, " end");
		CHECK_STR(d.sections[1].heading, "Short");
		CHECK_STR(d.sections[1].text, "Body.");
	}
	extract_doc_release(&d);
	buf_release(&md);
}

/* ---- failures -------------------------------------------------------------------------------------------- */

static const struct {
	const char *file; /* NULL: the bytes in inline */
	const char *inline_data;
	enum extract_kind kind;
	struct extract_limits lim; /* zero fields take the defaults */
	int code;
	const char *reason;
} fail_table[] = {
	{ "encrypted.pdf", NULL, EXTRACT_PDF, { 0 }, FS_EINVAL,
	  "the PDF is encrypted (password-protected); upload an unprotected copy" },
	{ "no-text.pdf", NULL, EXTRACT_PDF, { 0 }, FS_EINVAL,
	  "the PDF has no text layer (scanned pages?); run OCR first" },
	{ "truncated.pdf", NULL, EXTRACT_PDF, { 0 }, FS_EINVAL, "the PDF cannot be read" },
	{ "random.bin", NULL, EXTRACT_PDF, { 0 }, FS_EINVAL, "the PDF cannot be read" },
	{ "two-pages.pdf", NULL, EXTRACT_PDF, { .max_pages = 1 }, FS_EINVAL, "PDF has more than 1 pages" },
	{ "two-pages.pdf", NULL, EXTRACT_PDF, { .max_text_bytes = 100 }, FS_EINVAL,
	  "extracted text larger than 100 bytes" },
	{ "truncated.docx", NULL, EXTRACT_DOCX, { 0 }, FS_EINVAL, "the DOCX cannot be read (damaged zip archive" },
	{ "random.bin", NULL, EXTRACT_DOCX, { 0 }, FS_EINVAL, "the DOCX cannot be read (damaged zip archive" },
	{ "not-word.zip", NULL, EXTRACT_DOCX, { 0 }, FS_EINVAL, "the DOCX has no word/document.xml" },
	{ "malformed.docx", NULL, EXTRACT_DOCX, { 0 }, FS_EINVAL, "the DOCX cannot be read (word/document.xml, line" },
	/* the directory says 200 MiB: refused before inflating anything */
	{ "zip-bomb.docx", NULL, EXTRACT_DOCX, { 0 }, FS_EINVAL,
	  "DOCX archive too large when unpacked (over 100 MiB)" },
	/* the directory claims 4 KiB for 120 MiB: caught while inflating */
	{ "zip-bomb-lying.docx", NULL, EXTRACT_DOCX, { .max_unzipped_bytes = 1024 * 1024 }, FS_EINVAL,
	  "DOCX archive too large when unpacked (over 1 MiB)" },
	{ "zip-bomb-lying.docx", NULL, EXTRACT_DOCX, { 0 }, FS_EINVAL, "the DOCX cannot be read" },
	{ "handbook.docx", NULL, EXTRACT_DOCX, { .max_unzipped_bytes = 3000 }, FS_EINVAL,
	  "DOCX archive too large when unpacked (over 3000 bytes)" },
	{ "many-entries.docx", NULL, EXTRACT_DOCX, { .max_zip_entries = 10 }, FS_EINVAL,
	  "DOCX archive has more than 10 entries" },
	{ "billion-laughs.docx", NULL, EXTRACT_DOCX, { 0 }, FS_EINVAL, "the DOCX is not a valid Word document" },
	{ "xxe.docx", NULL, EXTRACT_DOCX, { 0 }, FS_EINVAL,
	  "the DOCX is not a valid Word document (word/document.xml declares a DTD)" },
	{ "deep.docx", NULL, EXTRACT_DOCX, { 0 }, FS_EINVAL, "XML nesting deeper than 256 levels" },
	{ "handbook.docx", NULL, EXTRACT_DOCX, { .max_xml_depth = 5 }, FS_EINVAL, "XML nesting deeper than 5 levels" },
	{ "handbook.docx", NULL, EXTRACT_DOCX, { .max_text_bytes = 100 }, FS_EINVAL,
	  "extracted text larger than 100 bytes" },
	{ "deep.html", NULL, EXTRACT_HTML, { 0 }, FS_EINVAL, "HTML nesting deeper than 256 levels" },
	{ "page.html", NULL, EXTRACT_HTML, { .max_xml_depth = 3 }, FS_EINVAL, "HTML nesting deeper than 3 levels" },
	{ "page.html", NULL, EXTRACT_HTML, { .max_text_bytes = 64 }, FS_EINVAL, "extracted text larger than 64 bytes" },
	{ "script-only.html", NULL, EXTRACT_HTML, { 0 }, FS_EINVAL, "the file holds no text" },
	{ "guide.md", NULL, EXTRACT_MARKDOWN, { .max_text_bytes = 100 }, FS_EINVAL,
	  "extracted text larger than 100 bytes" },
	{ "front-matter-only.md", NULL, EXTRACT_MARKDOWN, { 0 }, FS_EINVAL, "the file holds no text" },
	{ "notes.txt", NULL, EXTRACT_TEXT, { .max_text_bytes = 20 }, FS_EINVAL, "extracted text larger than 20 bytes" },
	{ "empty.txt", NULL, EXTRACT_TEXT, { 0 }, FS_EINVAL, "the file holds no text" },
	{ NULL, " \n\t\n  \n", EXTRACT_TEXT, { 0 }, FS_EINVAL, "the file holds no text" },
	{ "no-qa.csv", NULL, EXTRACT_CSV, { 0 }, FS_EINVAL,
	  "CSV has no question and answer columns (found: name, email, phone)" },
	{ NULL, "question\n", EXTRACT_CSV, { 0 }, FS_EINVAL,
	  "CSV has no question and answer columns (found: question)" },
	{ NULL, "Question,Answer\n,\nonly a question,\n", EXTRACT_CSV, { 0 }, FS_EINVAL, "the file holds no text" },
	{ "faq.csv", NULL, EXTRACT_CSV, { .max_text_bytes = 40 }, FS_EINVAL, "extracted text larger than 40 bytes" },
	{ "random.bin", NULL, EXTRACT_NONE, { 0 }, FS_EUNSUPPORTED, "unsupported file type" },
};

static void extract_fails_with_reasons(void)
{
	for (size_t i = 0; i < sizeof(fail_table) / sizeof(fail_table[0]); i++) {
		size_t len = 0;
		char *data = fail_table[i].file ? fixture(fail_table[i].file, &len) : NULL;
		const char *bytes = fail_table[i].file ? data : fail_table[i].inline_data;
		if (!fail_table[i].file)
			len = strlen(bytes);
		if (!bytes)
			continue;
		struct extract_limits lim;
		extract_limits_default(&lim);
		if (fail_table[i].lim.max_pages)
			lim.max_pages = fail_table[i].lim.max_pages;
		if (fail_table[i].lim.max_text_bytes)
			lim.max_text_bytes = fail_table[i].lim.max_text_bytes;
		if (fail_table[i].lim.max_unzipped_bytes)
			lim.max_unzipped_bytes = fail_table[i].lim.max_unzipped_bytes;
		if (fail_table[i].lim.max_zip_entries)
			lim.max_zip_entries = fail_table[i].lim.max_zip_entries;
		if (fail_table[i].lim.max_xml_depth)
			lim.max_xml_depth = fail_table[i].lim.max_xml_depth;
		struct extract_doc d;
		struct fs_error e = { 0, "" };
		int rc = extract_document(fail_table[i].kind, bytes, len, &lim, &d, &e);
		if (rc != fail_table[i].code || e.code != fail_table[i].code || !strstr(e.msg, fail_table[i].reason)) {
			printf("    %s: rc %d \"%s\"; expected %d \"%s\"\n",
			       fail_table[i].file ? fail_table[i].file : "inline", rc, e.msg, fail_table[i].code,
			       fail_table[i].reason);
			check_failed = 1;
		}
		/* a failed extraction leaves nothing behind */
		CHECK(d.sections == NULL && d.nsections == 0 && d.metadata == NULL && d.title == NULL);
		free(data);
	}
}

/* ---- the real documents ---------------------------------------------------------------------------------- */

static size_t text_bytes(const struct extract_doc *d)
{
	size_t n = 0;
	for (size_t i = 0; i < d->nsections; i++)
		n += strlen(d->sections[i].text);
	return n;
}

/* Every real document in ../shared/docs gives sensible text (skipped when the directory is absent), and the
 * TechFAR handbook's PDF and DOCX give about the same amount of it. */
static void extract_real_documents(void)
{
	DIR *dir = opendir(SHARED_DOCS);
	size_t techfar_pdf = 0, techfar_docx = 0, files = 0;
	struct dirent *ent;
	if (!dir) {
		printf("    skipped: %s is absent\n", SHARED_DOCS);
		return;
	}
	while ((ent = readdir(dir))) {
		char path[512], mime[128];
		size_t len;
		if (ent->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), SHARED_DOCS "%s", ent->d_name);
		char *data = load(path, &len);
		if (!data)
			continue;
		files++;
		enum extract_kind k = extract_detect(data, len, ent->d_name, mime, sizeof(mime));
		struct extract_doc d;
		struct fs_error e = { 0, "" };
		if (k == EXTRACT_NONE) {
			printf("    %s: not detected (%s)\n", ent->d_name, mime);
			check_failed = 1;
		} else if (extract_document(k, data, len, NULL, &d, &e) != 0) {
			printf("    %s: %s\n", ent->d_name, e.msg);
			check_failed = 1;
		} else {
			check_doc_sane(ent->d_name, &d);
			if (text_bytes(&d) < 150) {
				printf("    %s: only %zu bytes of text\n", ent->d_name, text_bytes(&d));
				check_failed = 1;
			}
			if (strcmp(ent->d_name, "usds-techfar-handbook-2014.pdf") == 0)
				techfar_pdf = text_bytes(&d);
			if (strcmp(ent->d_name, "usds-techfar-handbook-2014.docx") == 0)
				techfar_docx = text_bytes(&d);
			extract_doc_release(&d);
		}
		free(data);
	}
	closedir(dir);
	CHECK(files > 0);
	if (techfar_pdf && techfar_docx) {
		double ratio = (double)techfar_pdf / (double)techfar_docx;
		if (ratio < 0.9 || ratio > 1.1) {
			printf("    TechFAR: %zu bytes from the PDF, %zu from the DOCX\n", techfar_pdf, techfar_docx);
			check_failed = 1;
		}
	}
}

const struct test_case extract_cases[] = {
	{ "extract_detects_types", extract_detects_types },
	{ "extract_reads_each_format", extract_reads_each_format },
	{ "extract_markdown_front_matter", extract_markdown_front_matter },
	{ "extract_pdf_pages_and_metadata", extract_pdf_pages_and_metadata },
	{ "extract_cleans_bytes", extract_cleans_bytes },
	{ "extract_long_heading_is_text", extract_long_heading_is_text },
	{ "extract_fails_with_reasons", extract_fails_with_reasons },
	{ "extract_real_documents", extract_real_documents },
	{ NULL, NULL },
};
