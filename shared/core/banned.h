/* Functions that are easy to misuse: using one fails the build. Included last by every .c file of the project. */
#ifndef FAQSURE_BANNED_H
#define FAQSURE_BANNED_H

#define FAQSURE_BANNED(func) sorry_##func##_is_banned_use_buf_or_snprintf

#undef strcpy
#define strcpy(x, y) FAQSURE_BANNED(strcpy)
#undef strcat
#define strcat(x, y) FAQSURE_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) FAQSURE_BANNED(strncpy)
#undef sprintf
#define sprintf(...) FAQSURE_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) FAQSURE_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) FAQSURE_BANNED(strtok)
#undef gets
#define gets(x) FAQSURE_BANNED(gets)

#endif
