/* Rate-limit window arithmetic, route matching, cursors, error mapping. */
#include <stdlib.h>

#include "account/apikey.h"
#include "account/ratelimit.h"
#include "check.h"
#include "core/err.h"
#include "core/page.h"
#include "web/app.h"

static void ratelimit_admits_up_to_the_limit(void)
{
	struct ratelimit_result r;
	time_t now = 1801396800 + 15; /* 15 s into a minute and into an hour */
	ratelimit_decide(1, 1, 5, 1000, now, &r);
	CHECK(r.allowed);
	CHECK_INT(r.remaining, 4);
	CHECK_INT(r.reset_secs, 45);
	ratelimit_decide(5, 5, 5, 1000, now, &r);
	CHECK(r.allowed);
	CHECK_INT(r.remaining, 0);
	ratelimit_decide(6, 6, 5, 1000, now, &r);
	CHECK(!r.allowed);
	CHECK(!r.hit_hour);
	CHECK_INT(r.reset_secs, 45);
}

static void ratelimit_hour_binds(void)
{
	struct ratelimit_result r;
	time_t now = 1801396800 + 600 + 15;
	ratelimit_decide(1, 3, 100, 3, now, &r);
	CHECK(r.allowed);
	CHECK_INT(r.remaining, 0);
	CHECK_INT(r.reset_secs, 3600 - 615);
	ratelimit_decide(2, 4, 100, 3, now, &r);
	CHECK(!r.allowed);
	CHECK(r.hit_hour);
	CHECK_INT(r.reset_secs, 3600 - 615);
}

static void route_patterns_match_segments(void)
{
	char *params[APP_MAX_PARAMS] = { 0 };
	size_t n = 0;
	CHECK(app_match_path("/api/v1/keys", "/api/v1/keys", params, &n));
	CHECK_INT(n, 0);
	CHECK(app_match_path("/api/v1/keys/{id}", "/api/v1/keys/abc", params, &n));
	CHECK_INT(n, 1);
	CHECK_STR(params[0], "abc");
	free(params[0]);
	params[0] = NULL;
	CHECK(!app_match_path("/api/v1/keys/{id}", "/api/v1/keys/", params, &n));
	CHECK(!app_match_path("/api/v1/keys/{id}", "/api/v1/keys/a/b", params, &n));
	CHECK(!app_match_path("/api/v1/keys", "/api/v1/keysx", params, &n));
	CHECK(!app_match_path("/api/v1/keys", "/api/v1/key", params, &n));
	CHECK(app_match_path("/a/{x}/b/{y}", "/a/1/b/2", params, &n));
	CHECK_INT(n, 2);
	CHECK_STR(params[1], "2");
	free(params[0]);
	free(params[1]);
}

static void cursors_round_trip_and_reject_junk(void)
{
	struct page_pos p;
	struct fs_error e;
	char *c = page_cursor_make("1764137138.123456", "0b5f3c1e-8a3d-4c55-9a4e-5b1f2d3c4e5f");
	CHECK_INT(page_cursor_parse(c, &p, &e), 0);
	CHECK_STR(p.when, "1764137138.123456");
	CHECK_STR(p.id, "0b5f3c1e-8a3d-4c55-9a4e-5b1f2d3c4e5f");
	free(c);
	CHECK_INT(page_cursor_parse("junk", &p, &e), FS_EINVAL);
	CHECK_INT(page_cursor_parse("12x_0b5f3c1e-8a3d-4c55-9a4e-5b1f2d3c4e5f", &p, &e), FS_EINVAL);
	CHECK_INT(page_cursor_parse("1.2.3_0b5f3c1e-8a3d-4c55-9a4e-5b1f2d3c4e5f", &p, &e), FS_EINVAL);
	CHECK_INT(page_cursor_parse("1_0b5f3c1e-8a3d-4c55-9a4e-5b1f2d3c4e5", &p, &e), FS_EINVAL);
	CHECK_INT(page_cursor_parse("1_' OR 1=1 --", &p, &e), FS_EINVAL);
}

static void errors_map_to_seed_statuses(void)
{
	CHECK_INT(fs_http_status(FS_EAUTH), 401);
	CHECK_STR(fs_error_name(FS_EAUTH), "invalid_api_key");
	CHECK_INT(fs_http_status(FS_EBALANCE), 402);
	CHECK_STR(fs_error_name(FS_EBALANCE), "insufficient_balance");
	CHECK_INT(fs_http_status(FS_ERATE), 429);
	CHECK_STR(fs_error_name(FS_ERATE), "rate_limit_exceeded");
	CHECK_INT(fs_http_status(FS_EUNAVAIL), 503);
	CHECK_STR(fs_error_name(FS_EUNAVAIL), "upstream_unavailable");
	CHECK_INT(fs_http_status(FS_EINVAL), 400);
	CHECK_INT(fs_http_status(FS_ETOOLARGE), 413);
	CHECK_INT(fs_http_status(12345), 500);
}

/* Origins of publishable keys: canonical form, and what is refused. */
static void origins_are_canonical(void)
{
	char out[APIKEY_ORIGINS_SIZE];
	struct fs_error e;
	json_t *ok = json_pack("[s, s, s, s, s]", "HTTPS://Shop.Example.COM:443/", "http://localhost:8081",
			       "http://[::1]:3000", "http://shop.example.com:80", "http://localhost:8081");
	CHECK_INT(apikey_origins_parse(ok, "allowed_origins", out, &e), 0);
	CHECK_STR(out, "https://shop.example.com http://localhost:8081 http://[::1]:3000 http://shop.example.com");
	CHECK(apikey_origin_listed(out, "http://localhost:8081"));
	CHECK(apikey_origin_listed(out, "https://shop.example.com"));
	CHECK(!apikey_origin_listed(out, "https://shop.example.co"));
	CHECK(!apikey_origin_listed(out, "http://localhost"));
	CHECK(!apikey_origin_listed(out, ""));
	json_decref(ok);
	static const char *const bad[] = { "*", "null", "https://a.test/x", "https://a.test?q", "ftp://a.test",
					   "https://", "https://a.test:0", "https://a.test:65536", "https://user@a.test",
					   "https://a b.test", "https://.a.test", "https://a.test.", "https://[zz]",
					   "//a.test", "https://a.test#f" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *one = json_pack("[s]", bad[i]);
		int rc = apikey_origins_parse(one, "allowed_origins", out, &e);
		if (rc != FS_EINVAL)
			printf("    accepted %s\n", bad[i]);
		CHECK_INT(rc, FS_EINVAL);
		CHECK_CONTAINS(e.msg, "allowed_origins[0]");
		json_decref(one);
	}
	json_t *none = json_array(), *many = json_array();
	for (int i = 0; i <= APIKEY_MAX_ORIGINS; i++)
		json_array_append_new(many, json_sprintf("https://h%d.test", i));
	CHECK_INT(apikey_origins_parse(none, "allowed_origins", out, &e), FS_EINVAL);
	CHECK_INT(apikey_origins_parse(many, "allowed_origins", out, &e), FS_EINVAL);
	json_decref(none);
	json_decref(many);
	/* The configured list for secret keys may separate origins by commas too. */
	CHECK(apikey_origin_listed("https://a.test, https://b.test", "https://b.test"));
	CHECK(!apikey_origin_listed("https://a.test, https://b.test", "https://c.test"));
}

const struct test_case ratelimit_cases[] = {
	{ "origins_are_canonical", origins_are_canonical },
	{ "ratelimit_admits_up_to_the_limit", ratelimit_admits_up_to_the_limit },
	{ "ratelimit_hour_binds", ratelimit_hour_binds },
	{ NULL, NULL },
};
const struct test_case route_cases[] = {
	{ "route_patterns_match_segments", route_patterns_match_segments },
	{ NULL, NULL },
};
const struct test_case page_cases[] = {
	{ "cursors_round_trip_and_reject_junk", cursors_round_trip_and_reject_junk },
	{ NULL, NULL },
};
const struct test_case err_cases[] = {
	{ "errors_map_to_seed_statuses", errors_map_to_seed_statuses },
	{ NULL, NULL },
};
