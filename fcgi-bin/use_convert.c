/* use-convert — a build step: turns the Universal Sentence Encoder Lite npm package's TF.js files into the one
 * file shared/embed/use_lite.c maps (see GNUmakefile, "the sentence model"). */
#include <stdio.h>
#include <string.h>

#include "embed/use_lite.h"

#include "core/banned.h"

int main(int argc, char **argv)
{
	if (argc != 3 || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: use-convert PACKAGE_DIST_DIR OUT_FILE\n"
				"  PACKAGE_DIST_DIR holds model.json, its weight shards and vocab.json\n");
		return argc == 2 ? 0 : 2;
	}
	struct fs_error e = { 0 };
	if (use_model_convert(argv[1], argv[2], &e) < 0) {
		fprintf(stderr, "use-convert: %s\n", e.msg);
		return 1;
	}
	return 0;
}
