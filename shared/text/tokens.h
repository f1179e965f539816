/* Tokens as FAQSure prices them when no upstream reports its own usage: the built-in tokenizer, the same for
 * embedding, answering and the balance. */
#ifndef FAQSURE_TOKENS_H
#define FAQSURE_TOKENS_H

/* Tokens of a text: each word (a run of ASCII letters and digits and of non-ASCII bytes, so a word in any script
 * counts once) is one token, and so is every other character that is not whitespace (punctuation, symbols).
 * NULL counts 0. */
long long tokens_count(const char *text);

#endif
