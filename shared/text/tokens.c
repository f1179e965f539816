/* The built-in tokenizer (tokens.h). */
#include "text/tokens.h"

#include "core/banned.h"

static int is_word_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

long long tokens_count(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	long long n = 0;
	if (!p)
		return 0;
	while (*p) {
		if (is_word_byte(*p)) {
			while (is_word_byte(*p))
				p++;
			n++;
		} else {
			if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\f' && *p != '\v')
				n++;
			p++;
		}
	}
	return n;
}
