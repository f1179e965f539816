/* Named counts (tally.h). */
#include "core/tally.h"

#include <string.h>

#include "core/banned.h"

void tally_init(struct tally *t)
{
	memset(t, 0, sizeof(*t));
}

void tally_add(struct tally *t, const char *what, long long n)
{
	for (size_t i = 0; i < t->n; i++) {
		if (!strcmp(t->items[i].what, what)) {
			t->items[i].n += n;
			return;
		}
	}
	if (t->n < TALLY_MAX)
		t->items[t->n++] = (struct tally_item){ what, n };
}

long long tally_get(const struct tally *t, const char *what)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->items[i].what, what))
			return t->items[i].n;
	return 0;
}
