/* config: defaults, and the table of files in test/data/config, each naming on its first line what it should
 * give ("# expect: ok" or "# expect: error: <text the message must contain>"). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/buf.h"
#include "core/config.h"
#include "embed/use_lite.h"

#define CONFIG_DIR "test/data/config"

static void defaults_are_sensible(void)
{
	struct config c;
	config_init(&c);
	CHECK_STR(c.db_name, "faqsure");
	CHECK_INT(c.db_port, 3306);
	CHECK_INT(c.keys_default_per_minute, 60);
	CHECK_INT(c.keys_default_per_hour, 1000);
	CHECK_INT(c.http_max_body_bytes, 1048576);
	/* core names the sentence model's file without the embedders' header: the two names must agree */
	const char *model = c.answerer_sentence_model;
	size_t n = strlen(model), k = strlen("/" USE_MODEL_FILE);
	CHECK(n > k && !strcmp(model + n - k, "/" USE_MODEL_FILE));
	config_release(&c);
}

static void full_file_sets_values(void)
{
	struct config c;
	struct fs_error e;
	config_init(&c);
	CHECK_INT(config_load(&c, CONFIG_DIR "/full.conf", 1, &e), 0);
	CHECK_STR(c.db_socket, "/tmp/x.sock");
	CHECK_STR(c.db_user, "faqsure");
	CHECK_STR(c.db_password, "s3cret=with=equals");
	CHECK_INT(c.db_port, 3307);
	CHECK_INT(c.http_max_body_bytes, 2048);
	CHECK_INT(c.keys_default_per_minute, 10);
	CHECK_INT(c.ratelimit_prune_every, 5);
	config_release(&c);
}

/* What stack.sh relies on when it appends faqsure.local.conf: a section may come again, and a key set again later
 * wins over the earlier value (strings and numbers alike), leaving the other keys of the section as they were. */
static void later_sections_and_keys_win(void)
{
	struct config c;
	struct fs_error e;
	config_init(&c);
	CHECK_INT(config_parse(&c, "stack",
			       "[database]\nsocket = /run/a.sock\nuser = faqsure\n[answerer]\nbackend = builtin\n"
			       "timeout_ms = 1000\n\n# the local file\n[answerer]\nbackend = openai\n"
			       "url = http://127.0.0.1:11434/v1\n[database]\nsocket = /run/b.sock\n[answerer]\n"
			       "timeout_ms = 2500\n",
			       &e),
		  0);
	CHECK_STR(c.db_socket, "/run/b.sock");
	CHECK_STR(c.db_user, "faqsure");
	CHECK_STR(c.answerer_backend, "openai");
	CHECK_STR(c.answerer_url, "http://127.0.0.1:11434/v1");
	CHECK_INT(c.answerer_timeout_ms, 2500);
	config_release(&c);
}

/* Quotes around a whole value are dropped, double or single; spaces and quote marks inside stay; a lone or
 * mismatched quote is part of the value. */
static void quoted_values_lose_their_quotes(void)
{
	struct config c;
	struct fs_error e;
	config_init(&c);
	static const char *const cases[][2] = {
		{ "\"se cret\"", "se cret" }, { "' se#cret= '", " se#cret= " }, { "\"it's\"", "it's" },
		{ "'mixed\"", "'mixed\"" }, { "'", "'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "[database]\npassword = %s\n", cases[i][0]);
		CHECK_INT(config_parse(&c, "q", text, &e), 0);
		CHECK_STR(c.db_password, cases[i][1]);
	}
	CHECK_INT(config_parse(&c, "q", "[database]\npassword = ''\nport = '3307'\n", &e), 0);
	CHECK_STR(c.db_password, "");
	CHECK_INT(c.db_port, 3307);
	config_release(&c);
}

static void missing_file_only_when_required(void)
{
	struct config c;
	struct fs_error e;
	config_init(&c);
	CHECK_INT(config_load(&c, CONFIG_DIR "/does-not-exist.conf", 0, &e), 0);
	CHECK(config_load(&c, CONFIG_DIR "/does-not-exist.conf", 1, &e) < 0);
	CHECK_CONTAINS(e.msg, "does-not-exist.conf");
	config_release(&c);
}

static void shipped_example_parses(void)
{
	struct config c;
	struct fs_error e = { 0, "" };
	config_init(&c);
	int rc = config_load(&c, "vendor-config/faqsure.conf.example", 1, &e);
	if (rc)
		printf("    %s\n", e.msg);
	CHECK_INT(rc, 0);
	CHECK_INT(c.keys_default_per_minute, 60);
	config_release(&c);
}

static void table_of_files(void)
{
	DIR *d = opendir(CONFIG_DIR);
	struct dirent *de;
	int seen = 0;
	CHECK(d != NULL);
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".conf"))
			continue;
		char path[512], first[256] = "";
		snprintf(path, sizeof(path), "%s/%s", CONFIG_DIR, de->d_name);
		FILE *f = fopen(path, "r");
		CHECK(f != NULL);
		if (!f)
			continue;
		if (!fgets(first, sizeof(first), f))
			first[0] = '\0';
		fclose(f);
		first[strcspn(first, "\n")] = '\0';
		struct config c;
		struct fs_error e = { 0, "" };
		config_init(&c);
		int rc = config_load(&c, path, 1, &e);
		if (!strcmp(first, "# expect: ok")) {
			if (rc != 0)
				printf("    %s: %s\n", de->d_name, e.msg);
			CHECK_INT(rc, 0);
		} else if (!strncmp(first, "# expect: error: ", 17)) {
			CHECK(rc < 0);
			CHECK_CONTAINS(e.msg, first + 17);
			CHECK_CONTAINS(e.msg, de->d_name); /* the message names the file */
		} else {
			printf("    %s: first line must say what to expect\n", de->d_name);
			CHECK(0);
		}
		config_release(&c);
		seen++;
	}
	if (d)
		closedir(d);
	CHECK(seen >= 8);
}

/* A relative path in a configuration file is taken from that file's folder (a bundle moves as a whole); an
 * absolute one stays as written. */
static void relative_paths_are_taken_from_the_files_folder(void)
{
	char dir[] = "/tmp/faqsure-conf-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256];
	snprintf(path, sizeof(path), "%s/faqsure.conf", dir);
	struct config c;
	struct fs_error e;
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("[answerer]\nsentence_model = ../share/model.bin\n", f);
	fclose(f);
	config_init(&c);
	CHECK_INT(config_load(&c, path, 1, &e), 0);
	char want[300];
	snprintf(want, sizeof(want), "%s/../share/model.bin", dir);
	CHECK_STR(c.answerer_sentence_model, want);
	config_release(&c);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("[answerer]\nsentence_model = /opt/model.bin\n", f);
	fclose(f);
	config_init(&c);
	CHECK_INT(config_load(&c, path, 1, &e), 0);
	CHECK_STR(c.answerer_sentence_model, "/opt/model.bin");
	config_release(&c);
	/* the unit tests do not run from a bundle: no etc/faqsure.conf beside build/ */
	char bundled[4096];
	CHECK_INT(config_bundle_path(bundled, sizeof(bundled)), -1);
	remove(path);
	rmdir(dir);
}

/* [database] host lists servers: name, name:port, [address]:port or a bare IPv6 address, separated by commas;
 * one without a port has [database] port. */
static void database_host_lists_servers(void)
{
	char path[] = "/tmp/faqsure-hosts-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	FILE *f = fdopen(fd, "w");
	CHECK(f != NULL);
	fputs("[database]\nport = 3310\nhost = db1 , db2:3307,[fe80::1]:3308, ::1 ,[::2]\n", f);
	fclose(f);
	struct config c;
	struct fs_error e = { 0, "" };
	config_init(&c);
	CHECK_INT(config_load(&c, path, 1, &e), 0);
	CHECK_INT(c.db_nhosts, 5);
	const char *names[] = { "db1", "db2", "fe80::1", "::1", "::2" };
	int ports[] = { 3310, 3307, 3308, 3310, 3310 };
	for (int i = 0; i < 5 && i < c.db_nhosts; i++) {
		CHECK_STR(c.db_hosts[i].name, names[i]);
		CHECK_INT(c.db_hosts[i].port, ports[i]);
	}
	config_release(&c);
	config_init(&c); /* no host: the socket or 127.0.0.1, as before */
	CHECK_INT(c.db_nhosts, 0);
	config_release(&c);
	remove(path);
}

const struct test_case config_cases[] = {
	{ "config_database_host_lists_servers", database_host_lists_servers },
	{ "config_defaults_are_sensible", defaults_are_sensible },
	{ "config_full_file_sets_values", full_file_sets_values },
	{ "config_later_sections_and_keys_win", later_sections_and_keys_win },
	{ "config_quoted_values_lose_their_quotes", quoted_values_lose_their_quotes },
	{ "config_missing_file_only_when_required", missing_file_only_when_required },
	{ "config_table_of_files", table_of_files },
	{ "config_shipped_example_parses", shipped_example_parses },
	{ "config_relative_paths_are_taken_from_the_files_folder", relative_paths_are_taken_from_the_files_folder },
	{ NULL, NULL },
};
