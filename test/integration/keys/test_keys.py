# The key API (/api/v1/keys): admin-only create/list/get/revoke, secret shown once, account isolation, validation.
import datetime
import uuid

from harness import (KEY_RE, TIME_RE, UUID_RE, check, eq, expect_error, header_int, iso, name_cases, random_key, stack,
                     utcnow)

KEYS = "/api/v1/keys"
DOCS = "/api/v1/documents"
KEY_FIELDS = {"id", "name", "prefix", "type", "allowed_origins", "agent_id", "scope", "rate_limit_per_minute",
              "rate_limit_per_hour", "expires_at",
              "last_used_at", "revoked", "revoked_at", "created_at"}


def admin_account():
    s = stack()
    account = s.new_account()
    return s, account, s.new_key(account, name="admin", scope="admin")


def list_all(s, key, limit=None):
    """Every page of the list, each page's shape checked (Stack.pages); the keys in order."""
    return s.pages(KEYS, key, "keys", limit)[0]


def test_create_shows_secret_once_and_key_works():
    s, _, admin = admin_account()
    r = s.post(KEYS, {"name": "Production"}, key=admin)
    eq(r.status, 201, f"status ({r.describe()})")
    k = r.json
    eq(set(k), KEY_FIELDS | {"key"}, "fields of the created key")
    check(KEY_RE.match(k["key"]) is not None, f"key: {k['key']!r}")
    check(UUID_RE.match(k["id"]) is not None, f"id: {k['id']!r}")
    eq(k["prefix"], k["key"][:17], "prefix")
    eq((k["name"], k["scope"], k["rate_limit_per_minute"], k["rate_limit_per_hour"]),
       ("Production", "default", 60, 1000), "name, scope and default limits")
    eq((k["expires_at"], k["last_used_at"], k["revoked"], k["revoked_at"]), (None, None, False, None),
       "expires_at, last_used_at, revoked, revoked_at")
    check(TIME_RE.match(k["created_at"] or "") is not None, f"created_at: {k['created_at']!r}")
    r2 = s.get(DOCS, key=k["key"])
    eq(r2.status, 200, f"the new key, used at once ({r2.describe()})")
    eq(header_int(r2, "X-RateLimit-Limit", 0, 10**9), 60, "X-RateLimit-Limit of the new key")
    lst = s.get(KEYS, key=admin)
    eq(lst.status, 200, f"list ({lst.describe()})")
    check(k["key"].encode() not in lst.body and k["key"][17:].encode() not in lst.body,
          "the secret appears in GET /api/v1/keys")
    mine = [x for x in lst.json["keys"] if x["id"] == k["id"]]
    eq(len(mine), 1, "the new key in the list")
    eq(set(mine[0]), KEY_FIELDS, "fields of a listed key (no 'key')")
    eq(mine[0]["prefix"], k["prefix"], "listed prefix")
    check(TIME_RE.match(mine[0]["last_used_at"] or "") is not None,
          f"last_used_at after the key was used: {mine[0]['last_used_at']!r}")


def test_create_with_all_fields():
    s, _, admin = admin_account()
    when = (utcnow() + datetime.timedelta(days=800)).replace(hour=12, minute=0, second=0, microsecond=0)
    offset = when.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    r = s.post(KEYS, {"name": "n" * 100, "rate_limit_per_minute": 1000000, "rate_limit_per_hour": 100000000,
                      "expires_at": offset.isoformat(), "scope": "admin", "unknown_field": [1, 2]}, key=admin)
    eq(r.status, 201, f"status ({r.describe()})")
    k = r.json
    eq((k["name"], k["rate_limit_per_minute"], k["rate_limit_per_hour"], k["scope"]),
       ("n" * 100, 1000000, 100000000, "admin"), "fields as given")
    eq(k["expires_at"], iso(when), "expires_at given with +02:00, answered in UTC")
    r2 = s.get(KEYS, key=k["key"])
    eq(r2.status, 200, f"the new admin key can use /api/v1/keys ({r2.describe()})")


def test_expires_at_date_only_is_midnight_utc():
    s, _, admin = admin_account()
    day = (utcnow() + datetime.timedelta(days=30)).strftime("%Y-%m-%d")
    r = s.post(KEYS, {"name": "dated", "expires_at": day}, key=admin)
    eq(r.status, 201, f"status ({r.describe()})")
    eq(r.json["expires_at"], f"{day}T00:00:00Z", "expires_at of a date-only value")
    r = s.post(KEYS, {"name": "never", "expires_at": None}, key=admin)
    eq(r.status, 201, f"expires_at null ({r.describe()})")
    eq(r.json["expires_at"], None, "expires_at null")


def test_revoke_over_http():
    s, _, admin = admin_account()
    created = s.post(KEYS, {"name": "to-revoke"}, key=admin)
    eq(created.status, 201, f"create ({created.describe()})")
    k = created.json
    eq(s.get(DOCS, key=k["key"]).status, 200, "status before revoking")
    r = s.delete(f"{KEYS}/{k['id']}", key=admin)
    eq(r.status, 200, f"DELETE ({r.describe()})")
    eq((r.json["id"], r.json["revoked"]), (k["id"], True), "id, revoked")
    check("key" not in r.json, "DELETE answer carries the secret")
    check(TIME_RE.match(r.json.get("revoked_at") or "") is not None, f"revoked_at: {r.json.get('revoked_at')!r}")
    expect_error(s.get(DOCS, key=k["key"]), 401, "invalid_api_key")
    again = s.delete(f"{KEYS}/{k['id']}", key=admin)
    eq(again.status, 200, f"second DELETE ({again.describe()})")
    eq(again.json["revoked"], True, "revoked after the second DELETE")
    listed = [x for x in list_all(s, admin) if x["id"] == k["id"]]
    eq([x["revoked"] for x in listed], [True], "the revoked key in the list")


def test_non_admin_key_gets_403(s):
    account = s.new_account()
    admin = s.new_key(account, name="admin", scope="admin")
    plain = s.new_key(account, name="plain")
    some_id = s.get(KEYS, key=admin).json["keys"][0]["id"]
    for method, path, body in [("POST", KEYS, {"name": "sneaky"}), ("GET", KEYS, None),
                               ("DELETE", f"{KEYS}/{some_id}", None)]:
        r = s.request(method, path, key=plain, body=body)
        try:
            expect_error(r, 403, "forbidden")
            header_int(r, "X-RateLimit-Remaining", 0, 60)
            header_int(r, "X-RateLimit-Limit", 0, 10**9)
            header_int(r, "X-RateLimit-Reset", 0, 3600)
        except AssertionError as e:
            raise AssertionError(f"{method} {path}: {e}") from None
    ids = [x["id"] for x in list_all(s, admin)]
    eq(len(ids), 2, "keys of the account after the refused POST")
    check(all(not x["revoked"] for x in list_all(s, admin)), "a key was revoked by the refused DELETE")
    eq(s.get(DOCS, key=admin).status, 200, "the admin key still works")


def test_accounts_are_isolated(s):
    a = s.new_account("a")
    b = s.new_account("b")
    admin_a = s.new_key(a, name="admin-a", scope="admin")
    admin_b = s.new_key(b, name="admin-b", scope="admin")
    plain_b = s.new_key(b, name="plain-b")
    b_ids = {x["id"] for x in list_all(s, admin_b)}
    eq(len(b_ids), 2, "keys of B")
    a_ids = {x["id"] for x in list_all(s, admin_a)}
    check(not (a_ids & b_ids), f"A's list shows B's keys: {a_ids & b_ids}")
    eq(len(a_ids), 1, "keys of A")
    for kid in b_ids:
        expect_error(s.delete(f"{KEYS}/{kid}", key=admin_a), 404, "not_found")
    eq(s.get(DOCS, key=plain_b).status, 200, "B's key still works after A's DELETE")
    eq(s.get(DOCS, key=admin_b).status, 200, "B's admin key still works after A's DELETE")
    expect_error(s.delete(f"{KEYS}/{uuid.uuid4()}", key=admin_a), 404, "not_found")


def test_delete_malformed_id():
    s, _, admin = admin_account()
    r = s.delete(f"{KEYS}/not-a-uuid", key=admin)
    check(r.status in (400, 404), f"status for a malformed id ({r.describe()})")
    expect_error(r, r.status, "invalid_request" if r.status == 400 else "not_found")


def test_list_pagination_newest_first():
    s, _, admin = admin_account()
    made = []
    for i in range(4):
        r = s.post(KEYS, {"name": f"k{i}"}, key=admin)
        eq(r.status, 201, f"create k{i} ({r.describe()})")
        made.append(r.json["id"])
    keys = list_all(s, admin, limit=2)
    ids = [x["id"] for x in keys]
    eq(len(ids), len(set(ids)), "no key listed twice")
    eq(len(ids), 5, "keys over all pages (4 + the admin key)")
    check(set(made) <= set(ids), "every created key is listed")
    created = [x["created_at"] for x in keys]
    eq(created, sorted(created, reverse=True), "created_at newest first")
    eq([i for i in ids if i in made], list(reversed(made)), "created keys newest first")
    one = s.get(f"{KEYS}?limit=1", key=admin)
    eq((one.json["count"], one.json["has_more"]), (1, True), "count, has_more with limit=1")


def test_list_bad_parameters():
    s, _, admin = admin_account()
    for q, field in [("limit=0", "limit"), ("limit=101", "limit"), ("limit=abc", "limit"),
                     ("cursor=%21%21garbage%21%21", "cursor")]:
        try:
            expect_error(s.get(f"{KEYS}?{q}", key=admin), 400, "invalid_request", field)
        except AssertionError as e:
            raise AssertionError(f"?{q}: {e}") from None


def test_validation_names_the_field():
    s, _, admin = admin_account()
    past = iso(utcnow() - datetime.timedelta(hours=1))
    cases = name_cases(100) + [
        ({"name": "k", "rate_limit_per_minute": "10"}, "rate_limit_per_minute"),
        ({"name": "k", "rate_limit_per_minute": 0}, "rate_limit_per_minute"),
        ({"name": "k", "rate_limit_per_minute": 1000001}, "rate_limit_per_minute"),
        ({"name": "k", "rate_limit_per_minute": 1.5}, "rate_limit_per_minute"),
        ({"name": "k", "rate_limit_per_minute": True}, "rate_limit_per_minute"),
        ({"name": "k", "rate_limit_per_minute": -5}, "rate_limit_per_minute"),
        ({"name": "k", "rate_limit_per_hour": 0}, "rate_limit_per_hour"),
        ({"name": "k", "rate_limit_per_hour": 100000001}, "rate_limit_per_hour"),
        ({"name": "k", "rate_limit_per_hour": "many"}, "rate_limit_per_hour"),
        ({"name": "k", "rate_limit_per_hour": 2**70}, "rate_limit_per_hour"),
        ({"name": "k", "expires_at": past}, "expires_at"),
        ({"name": "k", "expires_at": "2001-01-01"}, "expires_at"),
        ({"name": "k", "expires_at": "not a date"}, "expires_at"),
        ({"name": "k", "expires_at": "2031-13-45"}, "expires_at"),
        ({"name": "k", "expires_at": "2031-02-30"}, "expires_at"),
        ({"name": "k", "expires_at": "2031-01-01T25:00:00Z"}, "expires_at"),
        ({"name": "k", "expires_at": 1893456000}, "expires_at"),
        ({"name": "k", "scope": "root"}, "scope"),
        ({"name": "k", "scope": 1}, "scope"),
    ]
    s.refuses_each(KEYS, cases, admin)
    eq(len(list_all(s, admin)), 1, "keys created by invalid requests")


def test_location_of_a_new_key_is_its_own_url():
    s, _, admin = admin_account()
    r = s.post(KEYS, {"name": "located", "rate_limit_per_minute": 9}, key=admin)
    eq(r.status, 201, f"create ({r.describe()})")
    created = r.json
    location = r.headers.get("Location")
    eq(location, f"{KEYS}/{created['id']}", "Location of the created key")
    got = s.get(location, key=admin)
    eq(got.status, 200, f"GET the Location ({got.describe()})")
    expected = {k: v for k, v in created.items() if k != "key"}
    eq(got.json, expected, "GET /api/v1/keys/{id}: the created key object without the secret")
    check(created["key"].encode() not in got.body and created["key"][17:].encode() not in got.body,
          "the secret appears in GET /api/v1/keys/{id}")
    listed = [x for x in list_all(s, admin) if x["id"] == created["id"]]
    eq(listed, [got.json], "GET /api/v1/keys/{id} equals the key's entry in the list")


def test_get_one_key_follows_use_and_revocation():
    s, _, admin = admin_account()
    r = s.post(KEYS, {"name": "tracked"}, key=admin)
    eq(r.status, 201, f"create ({r.describe()})")
    k = r.json
    eq(s.get(DOCS, key=k["key"]).status, 200, "using the new key")
    used = s.get(f"{KEYS}/{k['id']}", key=admin)
    eq(used.status, 200, f"GET after use ({used.describe()})")
    check(TIME_RE.match(used.json.get("last_used_at") or "") is not None,
          f"last_used_at after the key was used: {used.json.get('last_used_at')!r}")
    eq(s.delete(f"{KEYS}/{k['id']}", key=admin).status, 200, "DELETE")
    gone = s.get(f"{KEYS}/{k['id']}", key=admin)
    eq(gone.status, 200, f"GET a revoked key ({gone.describe()})")
    eq(gone.json["revoked"], True, "revoked")
    check(TIME_RE.match(gone.json.get("revoked_at") or "") is not None, f"revoked_at: {gone.json.get('revoked_at')!r}")
    own = s.get(KEYS, key=admin).json["keys"]
    admin_id = [x["id"] for x in own if x["name"] == "admin"]
    eq(len(admin_id), 1, "the admin key in the list")
    me = s.get(f"{KEYS}/{admin_id[0]}", key=admin)
    eq((me.status, me.json.get("id"), me.json.get("scope")), (200, admin_id[0], "admin"), "GET of the admin key itself")


def test_get_one_key_is_admin_only_and_per_account(s):
    a, b = s.new_account("a"), s.new_account("b")
    admin_a = s.new_key(a, name="admin-a", scope="admin")
    plain_a = s.new_key(a, name="plain-a")
    admin_b = s.new_key(b, name="admin-b", scope="admin")
    a_ids = [x["id"] for x in list_all(s, admin_a)]
    b_ids = [x["id"] for x in list_all(s, admin_b)]
    eq(len(a_ids), 2, "keys of A")
    for kid in b_ids:
        r = s.get(f"{KEYS}/{kid}", key=admin_a)
        expect_error(r, 404, "not_found")
        check(b"admin-b" not in r.body, f"B's key leaks to A: {r.describe()}")
    expect_error(s.get(f"{KEYS}/{uuid.uuid4()}", key=admin_a), 404, "not_found")
    r = s.get(f"{KEYS}/not-a-uuid", key=admin_a)
    check(r.status in (400, 404), f"status for a malformed id ({r.describe()})")
    expect_error(r, r.status, "invalid_request" if r.status == 400 else "not_found")
    r = s.get(f"{KEYS}/{a_ids[0]}", key=plain_a)
    expect_error(r, 403, "forbidden")
    check(b"plain-a" not in r.body and b"admin-a" not in r.body, f"the 403 shows a key: {r.describe()}")
    expect_error(s.get(f"{KEYS}/{a_ids[0]}", key=random_key()), 401, "invalid_api_key")
    expect_error(s.get(f"{KEYS}/{a_ids[0]}"), 401, "invalid_api_key")
