# Authentication: missing, unknown, garbage, expired and revoked keys get the 401 body; valid keys work.
import datetime
import time

from harness import check, eq, expect_error, expect_request_id, iso, random_key, utcnow

DOCS = "/api/v1/documents"


def expect_401(resp):
    body = expect_error(resp, 401, "invalid_api_key")
    eq(sorted(body), ["error", "message"], "fields of the 401 body")
    expect_request_id(resp)


def test_valid_key_works(s):
    _, key = s.account_with_key()
    r = s.get(DOCS, key=key)
    eq(r.status, 200, f"status ({r.describe()})")
    check(r.headers.get("Content-Type", "").startswith("application/json"),
          f"Content-Type: {r.headers.get('Content-Type')!r}")


def test_header_name_is_case_insensitive(s):
    _, key = s.account_with_key()
    r = s.get(DOCS, headers={"x-api-key": key})
    eq(r.status, 200, f"status with a lower-case header name ({r.describe()})")


def test_no_key(s):
    expect_401(s.get(DOCS))


def test_empty_key(s):
    expect_401(s.get(DOCS, key=""))


def test_unknown_well_formed_key(s):
    expect_401(s.get(DOCS, key=random_key()))


def test_garbage_keys(s):
    for garbage in ["hello", "faqsure_sk_", "faqsure_sk_' OR '1'='1", "Bearer faqsure_sk_x", "x" * 4000,
                    "faqsure_sk_" + "A" * 43 + "%00", "faqsure_sk_\u00e9\u00e9\u00e9"]:
        r = s.get(DOCS, key=garbage)
        try:
            expect_401(r)
        except AssertionError as e:
            raise AssertionError(f"key {garbage[:40]!r}: {e}") from None


def test_near_miss_of_a_valid_key(s):
    _, key = s.account_with_key()
    flipped = key[:-1] + ("a" if key[-1] != "a" else "b")
    for variant in [key[:-1], key + "x", flipped, key.upper() if key.upper() != key else key.lower(), " " + key + "x"]:
        r = s.get(DOCS, key=variant)
        try:
            expect_401(r)
        except AssertionError as e:
            raise AssertionError(f"variant of a valid key {variant[:20]}...: {e}") from None
    eq(s.get(DOCS, key=key).status, 200, "the real key still works")


def test_revoked_key_cli(s):
    account, key = s.account_with_key()
    other = s.new_key(account, name="other")
    eq(s.get(DOCS, key=key).status, 200, "status before revoking")
    s.ctl("key", "revoke", key[:17])
    expect_401(s.get(DOCS, key=key))
    eq(s.get(DOCS, key=other).status, 200, "another key of the same account still works")


def test_expired_key_past_date_cli(s):
    """--expires in the past: the CLI either refuses it, or the key it makes is already expired."""
    account = s.new_account()
    for past in [(utcnow() - datetime.timedelta(days=2)).strftime("%Y-%m-%d"),
                 utcnow().strftime("%Y-%m-%d"),  # 00:00:00 UTC today, already past
                 iso(utcnow() - datetime.timedelta(minutes=5))]:
        r = s.ctl("key", "create", "--account", account, "--name", "past", "--expires", past, check_rc=False)
        if r.returncode != 0:
            check(r.stderr.strip(), f"--expires {past}: refused without a message on stderr")
            continue
        key = r.stdout.rstrip("\n").split("\n")[-1]
        expect_401(s.get(DOCS, key=key))


def test_key_expires_cli(s):
    account = s.new_account()
    expires = utcnow().replace(microsecond=0) + datetime.timedelta(seconds=4)
    key = s.new_key(account, expires=iso(expires))
    r = s.get(DOCS, key=key)
    eq(r.status, 200, f"status before expiry ({r.describe()})")
    time.sleep(max(0.0, (expires - utcnow()).total_seconds()) + 1.5)
    expect_401(s.get(DOCS, key=key))


def test_key_expires_http(s):
    account = s.new_account()
    admin = s.new_key(account, name="admin", scope="admin")
    expires = utcnow().replace(microsecond=0) + datetime.timedelta(seconds=4)
    r = s.post("/api/v1/keys", {"name": "short-lived", "expires_at": iso(expires)}, key=admin)
    eq(r.status, 201, f"create ({r.describe()})")
    eq(r.json.get("expires_at"), iso(expires), "expires_at")
    key = r.json["key"]
    eq(s.get(DOCS, key=key).status, 200, "status before expiry")
    time.sleep(max(0.0, (expires - utcnow()).total_seconds()) + 1.5)
    expect_401(s.get(DOCS, key=key))


def test_401_on_every_family(s):
    for method, path in [("GET", "/api/v1/documents"), ("GET", "/api/v1/keys"), ("POST", "/api/v1/keys")]:
        r = s.request(method, path, key=random_key(), body={"name": "x"} if method == "POST" else None)
        try:
            expect_401(r)
        except AssertionError as e:
            raise AssertionError(f"{method} {path}: {e}") from None
