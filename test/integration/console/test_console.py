# The web console (shared/console, served at /console/) in a real browser: signing in with an admin key (and the
# refusals), a new key's secret shown once and nowhere else, uploads with their progress and live status, a
# streamed playground answer with sources, confidence and feedback, the analytics charts, saving an agent,
# conversations, signing out (and being signed out by a 401), no console errors (CSP violations included) on any
# page, and a phone-sized screen. Screenshots go to $BUILDDIR/screenshots/console-*.png.
import os
import re
import shutil

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from browser import browser, console_errors, screenshot, wait_for
from harness import KEY_RE, SkipTest, check, eq, random_key, stack, unique, web_stack
from kb import OFF_TOPIC, RETURNS_TXT

KEYS = "/api/v1/keys"
AGENTS = "/api/v1/agents"
DOCS = "/api/v1/documents"
CHAT = "/api/v1/chat"
CONVERSATIONS = "/api/v1/chat/conversations"
STORE = "faqsure.console.key"  # the sessionStorage item that holds the signed-in key
PAGES = ["analytics", "playground", "documents", "conversations", "agents", "keys"]
QUESTION = "What is your return policy?"

_acct = {}


def account():
    """One account for every test here: the return policy document, ready, and an admin key with room for the
    console's polling."""
    if not _acct:
        s = stack()
        name = s.new_account("console", unlimited=True)
        admin = s.new_key(name, name="console admin", scope="admin", per_minute=10000, per_hour=1000000)
        doc = s.upload_ok(admin, RETURNS_TXT, "returns-policy.txt")
        s.wait_document(admin, doc, "ready")
        _acct.update(account=name, admin=admin)
    return _acct


def console_url(s):
    return f"http://127.0.0.1:{s.port}/console/"


def css(d, selector):
    return d.find_elements("css selector", selector)


def one(d, selector, timeout=15):
    """The first element matching selector, once there is one."""
    return wait_for(d, lambda d: (css(d, selector) or [None])[0], timeout, f"an element {selector!r}")


def go(d, route):
    """Follows a console route (#/keys …) the way a nav link does, and waits for that page's heading."""
    page = route[2:].split("?")[0].split("/")[0]
    d.execute_script("location.hash = arguments[0]", route)
    one(d, f'main[data-page="{page}"] h1')


def settled(d, timeout=15):
    """Waits until nothing on the page says Loading… (every request of the page answered)."""
    wait_for(d, lambda d: not d.execute_script(
        "return [...document.querySelectorAll('.loading, .busy')].some(e => e.offsetParent && e.textContent.trim())"),
        timeout, "the page's requests to finish")


def sign_in(d, s, key, load=True):
    if load:
        d.get(console_url(s))
    field = one(d, "input[type=password]")
    field.send_keys(key)
    one(d, "main form button[type=submit]").click()


def signed_in(d, s, key):
    sign_in(d, s, key)
    wait_for(d, lambda d: d.execute_script("return location.hash") == "#/analytics", 15, "the dashboard after signing in")
    settled(d)


def storage(d):
    return d.execute_script("return [JSON.stringify(sessionStorage), JSON.stringify(localStorage), document.cookie]")


def no_errors(d, what):
    errors = console_errors(d)
    eq(errors, [], f"browser console errors ({what})")


def phone(d):
    """A 375 × 740 phone screen (Chromium's window cannot be narrower than 500 px, so it is emulated)."""
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 375, "height": 740, "deviceScaleFactor": 1, "mobile": True})


def confirm(d):
    """Accepts the open confirmation dialog."""
    one(d, "dialog[open] button.danger").click()
    wait_for(d, lambda d: not css(d, "dialog[open]"), 5, "the dialog to close")


# ---- signing in ---------------------------------------------------------------------------------------------------

def test_every_page_signed_in_without_errors(s):
    a = account()
    r = s.request("GET", "/console/", parse_json=False)
    eq(r.status, 200, f"GET /console/ ({r.describe()})")
    check("script-src 'self'" in (r.headers.get("Content-Security-Policy") or ""),
          f"the console is served with its CSP: {r.headers.get('Content-Security-Policy')!r}")
    with browser() as d:
        d.get(console_url(s) + "#/keys")
        one(d, "input[type=password]")
        check(not d.find_element("id", "nav").is_displayed(), "the nav is hidden before signing in")
        screenshot(d, "console-signin")
        sign_in(d, s, a["admin"], load=False)
        # a route asked for before signing in is where signing in leads
        wait_for(d, lambda d: d.execute_script("return location.hash") == "#/keys", 15, "the keys page after sign-in")
        session, local, cookies = storage(d)
        check(a["admin"] in session, "the key is in sessionStorage")
        eq((local, cookies), ("{}", ""), "localStorage and cookies stay empty")
        check(a["admin"] not in d.current_url, "the key is not in the URL")
        for name in PAGES:
            go(d, f"#/{name}")
            settled(d)
            check(d.find_element("css selector", f'#nav a[href="#/{name}"]').get_attribute("aria-current") == "page",
                  f"the nav marks {name} as the current page")
            check(not css(d, ".msg.error:not(:empty)"), f"{name}: an error is shown: "
                  f"{[e.text for e in css(d, '.msg.error:not(:empty)')]}")
            screenshot(d, f"console-{name}")
            eq(d.execute_script(LOW_CONTRAST), [], f"text under 4.5:1 contrast on {name}")
            no_errors(d, name)
        # the keyboard: the skip link comes first and leads to the page; focus is always visible
        go(d, "#/documents")
        d.refresh()  # a fresh page: Tab starts from the top
        one(d, "main h1")
        settled(d)
        ActionChains(d).send_keys(Keys.TAB).perform()
        eq(d.execute_script("return document.activeElement.className"), "skip", "the first Tab stop")
        check(d.execute_script("return document.activeElement.getBoundingClientRect().top >= 0"),
              "the skip link shows when focused")
        ActionChains(d).send_keys(Keys.ENTER).perform()
        eq(d.execute_script("return document.activeElement.tagName"), "H1", "focus after the skip link")
        ActionChains(d).send_keys(Keys.TAB).perform()
        focused = d.execute_script("const e = document.activeElement; const st = getComputedStyle(e);"
                                   "return [e.textContent, st.outlineStyle, st.outlineWidth]")
        eq(focused, ["Choose files", "solid", "3px"], "the next Tab stop and its focus ring")
        # every control that takes input has a label
        for name in PAGES:
            go(d, f"#/{name}")
            settled(d)
            unlabelled = d.execute_script("""return [...document.querySelectorAll('main input, main select, main textarea')]
                .filter(e => e.type !== 'hidden' && !e.closest('[aria-hidden=true]') && e.id !== 'file-input'
                        && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                .map(e => e.outerHTML.slice(0, 80))""")
            eq(unlabelled, [], f"inputs without a label on {name}")


# The visible text (outside charts and disabled controls) whose contrast with its background is under 4.5:1.
LOW_CONTRAST = """
const lum = c => {
  const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const background = e => {
  for (; e; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor, m = c.match(/[\\d.]+/g);
    if (m && (m.length < 4 || +m[3] > 0.5)) return c;
  }
  return 'rgb(255, 255, 255)';
};
const low = [];
for (const e of document.querySelectorAll('body *')) {
  if (e.closest('svg') || e.closest('[disabled]') || !e.getClientRects().length) continue;
  if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
  const a = lum(getComputedStyle(e).color), b = lum(background(e));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < 4.5) low.push(`${e.tagName} "${e.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
}
return low;
"""


def test_wrong_and_non_admin_keys_are_refused(s):
    a = account()
    plain = s.new_key(a["account"], name="not admin")
    with browser() as d:
        sign_in(d, s, random_key())
        alert = one(d, "main [role=alert]")
        wait_for(d, lambda d: "not accepted" in alert.text, 10, "the refusal of an unknown key")
        sign_in(d, s, plain)
        alert = one(d, "main [role=alert]")
        wait_for(d, lambda d: "not an admin key" in alert.text, 10, "the refusal of a key without the admin scope")
        sign_in(d, s, "faqsure_pk_" + "x" * 43)
        alert = one(d, "main [role=alert]")
        wait_for(d, lambda d: "publishable" in alert.text, 10, "the refusal of a publishable key")
        screenshot(d, "console-signin-refused")
        eq(d.execute_script(f"return sessionStorage.getItem('{STORE}')"), None, "no key kept after a refusal")
        eq(d.execute_script("return location.hash"), "#/signin", "still on the sign-in page")
        # the browser logs the refused requests themselves (401, 403); nothing else may go wrong
        errors = [e for e in console_errors(d) if "status of 401" not in e and "status of 403" not in e]
        eq(errors, [], "browser console errors besides the refused requests")


def test_sign_out_and_a_revoked_key_sign_out(s):
    a = account()
    short = s.new_key(a["account"], name="short-lived admin", scope="admin", per_minute=10000, per_hour=1000000)
    with browser() as d:
        signed_in(d, s, a["admin"])
        d.find_element("id", "signout").click()
        one(d, "input[type=password]")
        eq(d.execute_script("return sessionStorage.length"), 0, "sessionStorage after signing out")
        d.execute_script("location.hash = '#/keys'")
        wait_for(d, lambda d: d.execute_script("return location.hash") == "#/signin", 5,
                 "a page after signing out to lead to sign-in")
        # a key revoked while the console is open: the next request's 401 signs out, saying why
        signed_in(d, s, short)
        keys = s.get(KEYS, key=a["admin"]).json["keys"]
        kid = next(k["id"] for k in keys if k["prefix"] == short[:17])
        eq(s.delete(f"{KEYS}/{kid}", key=a["admin"]).status, 200, "revoke the console's key")
        d.execute_script("location.hash = '#/documents'")
        wait_for(d, lambda d: d.execute_script("return location.hash") == "#/signin", 10, "being signed out by the 401")
        said = wait_for(d, lambda d: d.execute_script(
            "const e = document.querySelector('main form [role=status]'); return e && e.textContent"), 5,
            "the reason on the sign-in page")
        check("signed out" in said, f"the sign-in page says why: {said!r}")
        said_api = s.get(DOCS, key=short).json["message"]
        check(said_api in said, f"the sign-in page gives the API's reason ({said_api!r}): {said!r}")
        eq(d.execute_script("return sessionStorage.length"), 0, "sessionStorage after the 401")


# ---- API keys -----------------------------------------------------------------------------------------------------

def test_new_key_secret_is_shown_once(s):
    a = account()
    name = unique("Production")
    with browser() as d:
        signed_in(d, s, a["admin"])
        go(d, "#/keys")
        settled(d)
        form = one(d, "main form")
        eq(form.find_element("css selector", "input[type=number][max='1000000']").get_attribute("value"), "60",
           "per-minute default")
        eq(form.find_element("css selector", "input[type=number][max='100000000']").get_attribute("value"), "1000",
           "per-hour default")
        form.find_element("css selector", "input:not([type])").send_keys(name)
        form.find_element("css selector", "button[type=submit]").click()
        secret_el = one(d, ".secret-panel .secret")
        secret = secret_el.text.strip()
        check(KEY_RE.match(secret) is not None, f"the secret shown: {secret!r}")
        check("Copy this key now. It is only shown once." in one(d, ".secret-panel").text, "the warning")
        screenshot(d, "console-keys-created")
        one(d, ".secret-panel button.primary").click()  # Copy: the clipboard, or the text selected
        status = one(d, ".secret-panel [role=status]")
        wait_for(d, lambda d: "Copied" in status.text or "Selected" in status.text, 5, "the copy to be confirmed")
        eq(s.get(DOCS, key=secret).status, 200, "the new key works")
        listed = [k for k in s.get(KEYS, key=a["admin"]).json["keys"] if k["name"] == name]
        eq(len(listed), 1, "the new key through the API")
        wait_for(d, lambda d: name in one(d, "main table").text, 10, "the new key in the list")
        for where in storage(d):
            check(secret not in where and secret[17:] not in where, "the secret is in the browser's storage")
        check(secret not in d.current_url, "the secret is in the URL")
        # gone once the page is left, and after a reload
        go(d, "#/documents")
        go(d, "#/keys")
        settled(d)
        check(secret not in d.page_source and not css(d, ".secret-panel"), "the secret after leaving and coming back")
        d.refresh()
        one(d, "main h1")
        settled(d)
        check(secret not in d.page_source, "the secret after a reload")
        no_errors(d, "keys")


def test_key_edit_and_revoke(s):
    a = account()
    name = unique("Edit me")
    created = s.post(KEYS, {"name": name}, key=a["admin"])
    eq(created.status, 201, f"create ({created.describe()})")
    kid = created.json["id"]
    with browser() as d:
        signed_in(d, s, a["admin"])
        go(d, "#/keys")
        settled(d)
        one(d, f'button[aria-label="Edit {name}"]').click()
        dialog = one(d, "dialog[open]")
        inputs = dialog.find_elements("css selector", "input")
        inputs[0].clear()
        inputs[0].send_keys(name + " v2")
        inputs[1].clear()
        inputs[1].send_keys("120")
        screenshot(d, "console-keys-edit")
        dialog.find_element("css selector", "button[type=submit]").click()
        wait_for(d, lambda d: not css(d, "dialog[open]"), 10, "the edit dialog to close after saving")
        k = s.get(f"{KEYS}/{kid}", key=a["admin"]).json
        eq((k["name"], k["rate_limit_per_minute"]), (name + " v2", 120), "the key after the edit")
        wait_for(d, lambda d: name + " v2" in one(d, "main table").text, 10, "the new name in the list")
        one(d, f'button[aria-label="Revoke {name} v2"]').click()
        confirm(d)
        wait_for(d, lambda d: "revoked" in d.find_element("xpath", f"//tr[contains(., '{name} v2')]").text, 10,
                 "the row to say revoked")
        eq(s.get(f"{KEYS}/{kid}", key=a["admin"]).json["revoked"], True, "revoked through the API")
        no_errors(d, "key edit and revoke")


def test_publishable_key_with_origins(s):
    a = account()
    name = unique("Widget")
    with browser() as d:
        signed_in(d, s, a["admin"])
        go(d, "#/keys")
        settled(d)
        form = one(d, "main form")
        form.find_element("css selector", "input:not([type])").send_keys(name)
        form.find_element("css selector", "input[value=publishable]").click()
        origins = form.find_element("css selector", "textarea")
        origins.send_keys("https://shop.example/help")  # a path: refused before sending
        form.find_element("css selector", "button[type=submit]").click()
        alert = one(d, "main form [role=alert]")
        wait_for(d, lambda d: "not an origin" in alert.text, 5, "the bad origin to be named")
        origins.clear()
        origins.send_keys("https://shop.example\nhttp://localhost:8000/")
        form.find_element("css selector", "button[type=submit]").click()
        secret = one(d, ".secret-panel .secret").text.strip()
        check(secret.startswith("faqsure_pk_"), f"a publishable key: {secret[:14]!r}")
        line = one(d, ".secret-panel .snippet").text.strip()
        eq(line, f'<script src="http://127.0.0.1:{s.port}/widget.js" data-key="{secret}" async></script>',
           "the one line that puts the widget on a page")
        screenshot(d, "console-keys-widget-line")
        k = next(x for x in s.get(KEYS, key=a["admin"]).json["keys"] if x["name"] == name)
        eq((k["type"], sorted(k["allowed_origins"]), k["agent_id"]),
           ("publishable", ["http://localhost:8000", "https://shop.example"], None), "the key through the API")
        # its origins can be edited
        one(d, f'button[aria-label="Edit {name}"]').click()
        box = one(d, "dialog[open] textarea")
        box.clear()
        box.send_keys("https://www.shop.example")
        one(d, "dialog[open] button[type=submit]").click()
        wait_for(d, lambda d: not css(d, "dialog[open]"), 10, "the edit dialog to close after saving")
        eq(s.get(f"{KEYS}/{k['id']}", key=a["admin"]).json["allowed_origins"], ["https://www.shop.example"],
           "the origins after the edit")
        wait_for(d, lambda d: "https://www.shop.example" in one(d, "main table").text, 10, "the new origin listed")
        no_errors(d, "publishable key")


def test_keys_page_on_a_phone(s):
    a = account()
    with browser() as d:
        phone(d)
        signed_in(d, s, a["admin"])
        go(d, "#/keys")
        settled(d)
        one(d, "main form input:not([type])").send_keys(unique("Phone"))
        one(d, "main form button[type=submit]").click()
        one(d, ".secret-panel .secret")
        width = d.execute_script("return document.documentElement.scrollWidth")
        check(width <= 375, f"the page is {width} px wide on a 375 px screen")
        d.execute_script("window.scrollTo(0, 0)")
        screenshot(d, "console-keys-phone")
        d.execute_script("document.querySelector('.secret-panel').scrollIntoView()")
        screenshot(d, "console-keys-phone-secret")
        no_errors(d, "keys on a phone")


# ---- documents ----------------------------------------------------------------------------------------------------

def test_upload_progress_status_replace_and_delete(s, tmp_path):
    a = account()
    name = unique("faq") + ".md"
    first = tmp_path / name
    first.write_text("# Opening hours\n\nOur shop is open from 9 to 17 on weekdays and from 10 to 14 on Saturdays.\n")
    bad = tmp_path / "logo.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with browser() as d:
        signed_in(d, s, a["admin"])
        go(d, "#/documents")
        settled(d)
        # choosing several files: the hidden file input is given them
        one(d, "#file-input").send_keys(f"{first}\n{bad}")
        # and a drop on the zone, with a file made in the page
        dropped = unique("dropped") + ".txt"
        d.execute_script(DROP, dropped)
        item = wait_for(d, lambda d: next((li for li in css(d, ".upload") if name in li.text), None), 10,
                        "the upload of the text file")
        wait_for(d, lambda d: "Ready" in item.text, 30, f"the document to become ready: {item.text!r}")
        check(re.search(r"\d+ chunks?\b", item.text), f"the chunk count: {item.text!r}")
        eq(item.find_element("css selector", "progress").get_attribute("value"), "100", "the progress bar at the end")
        item = wait_for(d, lambda d: next((li for li in css(d, ".upload") if dropped in li.text), None), 10,
                        "the upload of the dropped file")
        wait_for(d, lambda d: "Ready" in item.text, 30, f"the dropped document to become ready: {item.text!r}")
        refused = next(li for li in css(d, ".upload") if "logo.png" in li.text)
        wait_for(d, lambda d: "Upload failed" in refused.text, 10, "the refusal of the PNG")
        check("image/png" in refused.text or "unsupported" in refused.text.lower(), f"says why: {refused.text!r}")
        docs = [x for x in s.get(f"{DOCS}?limit=100", key=a["admin"]).json["documents"] if x["filename"] == name]
        eq([x["status"] for x in docs], ["ready"], "the document through the API")
        old_id = docs[0]["id"]
        row = wait_for(d, lambda d: d.find_element("css selector", f'tr[data-id="{old_id}"]'), 10, "the document's row")
        wait_for(d, lambda d: "ready" in row.text, 10, "its row to say ready")
        screenshot(d, "console-documents-uploaded")
        # replace: a new version under the same name; the old one is deleted once the new one is ready
        first.write_text("# Opening hours\n\nFrom March on, our shop is open from 8 to 18 on weekdays.\n")
        d.find_element("css selector", f'button[aria-label="Replace {name}"]').click()
        one(d, "#file-input").send_keys(str(first))
        replaced = wait_for(d, lambda d: next((li for li in css(d, ".upload") if f"replaces {name}" in li.text), None),
                            10, "the replacement upload")
        wait_for(d, lambda d: "Ready" in replaced.text, 30, f"the new version to be ready: {replaced.text!r}")
        wait_for(d, lambda d: s.get(f"{DOCS}/{old_id}", key=a["admin"]).status == 404, 15, "the old version deleted")
        new = [x for x in s.get(f"{DOCS}?limit=100", key=a["admin"]).json["documents"] if x["filename"] == name]
        eq(len(new), 1, "one document of that name after replacing")
        # delete, after confirming
        row = wait_for(d, lambda d: d.find_element("css selector", f'tr[data-id="{new[0]["id"]}"]'), 10, "the new row")
        d.find_element("css selector", f'button[aria-label="Delete {name}"]').click()
        confirm(d)
        wait_for(d, lambda d: not css(d, f'tr[data-id="{new[0]["id"]}"]'), 10, "the row to go")
        eq(s.get(f"{DOCS}/{new[0]['id']}", key=a["admin"]).status, 404, "deleted through the API")
        errors = [e for e in console_errors(d) if "status of 415" not in e]  # the PNG's refusal itself
        eq(errors, [], "browser console errors besides the refused upload")


# Drops a text file named arguments[0] on the upload zone, as a drag from the desktop would.
DROP = """
const data = new DataTransfer();
data.items.add(new File(['Parking is free for customers in the garage under the shop.'], arguments[0], {type: 'text/plain'}));
const zone = document.getElementById('dropzone');
for (const type of ['dragover', 'drop']) zone.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
"""


# ---- playground ---------------------------------------------------------------------------------------------------

# Records, for each piece of text added to an answer, its length and whether the answer was still streaming.
OBSERVE = """
window.__pieces = [];
new MutationObserver(records => {
  for (const r of records) {
    if (!r.target.classList || !r.target.classList.contains('answer-text')) continue;
    const item = r.target.closest('li');
    for (const n of r.addedNodes) {
      if (n.nodeType === 3) window.__pieces.push({len: n.textContent.length, state: item.dataset.state});
    }
  }
}).observe(document.querySelector('.transcript'), {childList: true, subtree: true});
"""


def ask(d, question=None):
    """Asks (the question box's text, or `question`) and waits for the answer; returns its <li>."""
    box = one(d, "#question")
    if question is not None:
        box.clear()
        box.send_keys(question)
    before = len(css(d, ".turn.assistant"))
    one(d, "form.ask button[type=submit]").click()
    return wait_for(d, lambda d: (lambda items: items[before] if len(items) > before and
                                  items[before].get_attribute("data-state") != "streaming" else None)(
        css(d, ".turn.assistant")), 30, "the answer")


def test_playground_streams_an_answer_with_sources(s):
    a = account()
    with browser() as d:
        signed_in(d, s, a["admin"])
        go(d, "#/playground?q=" + QUESTION.replace(" ", "%20").replace("?", "%3F"))
        settled(d)
        eq(one(d, "#question").get_attribute("value"), QUESTION, "the question from the address, prefilled")
        d.execute_script(OBSERVE)
        answer = ask(d)
        eq(answer.get_attribute("data-state"), "done", f"the answer's state ({answer.text!r})")
        text = answer.find_element("css selector", ".answer-text").text
        check("30 days" in text, f"the answer: {text!r}")
        pieces = d.execute_script("return window.__pieces")
        streaming = [p for p in pieces if p["state"] == "streaming"]
        check(len(streaming) >= 2, f"pieces of the answer added while it streamed: {pieces!r}")
        check(streaming[0]["len"] < len(text), f"the first piece ({streaming[0]['len']} characters) is not the "
              f"whole answer ({len(text)})")
        deltas = int(answer.find_element("css selector", ".answer-text").get_attribute("data-deltas") or 0)
        check(deltas >= 2, f"delta events counted: {deltas}")
        check("Confidence" in answer.text, f"the confidence: {answer.text!r}")
        check(not css(d, ".turn.assistant .fallback-label"), "the answer is labelled as a fallback")
        sources = answer.find_element("css selector", "details.sources")
        sources.find_element("css selector", "summary").click()
        source = sources.find_element("css selector", "details.source")
        check("returns-policy.txt" in source.text, f"the source's file: {source.text!r}")
        source.find_element("css selector", "summary").click()
        check("original packaging" in source.find_element("css selector", ".passage").text, "the passage's text")
        # thumbs up, stored
        answer.find_element("xpath", ".//button[contains(., 'Helpful') and not(contains(., 'Not'))]").click()
        wait_for(d, lambda d: "Thanks" in answer.text, 10, "the rating to be confirmed")
        convs = s.get(f"{CONVERSATIONS}?limit=1", key=a["admin"]).json["conversations"]
        conv = s.get(f"{CONVERSATIONS}/{convs[0]['id']}", key=a["admin"]).json
        eq(conv["messages"][1]["feedback"]["rating"], "up", "the rating through the API")
        # a follow-up continues the conversation; a thumbs down takes a comment
        follow = ask(d, "How long does that take?")
        eq(follow.get_attribute("data-state"), "done", f"the follow-up ({follow.text!r})")
        eq(s.get(f"{CONVERSATIONS}/{conv['id']}", key=a["admin"]).json["message_count"], 4,
           "the follow-up in the same conversation")
        # off the knowledge base: the fallback, labelled
        off = ask(d, OFF_TOPIC)
        check("No answer found in your documents — fallback message shown" in off.text, f"the fallback: {off.text!r}")
        off.find_element("xpath", ".//button[contains(., 'Not helpful')]").click()
        comment = wait_for(d, lambda d: (lambda t: t if t.is_displayed() else None)(
            off.find_element("css selector", ".comment textarea")), 10, "the comment box")
        comment.send_keys("Should say we do not know about volcanoes.")
        off.find_element("xpath", ".//button[contains(., 'Send comment')]").click()
        wait_for(d, lambda d: "comment saved" in off.text, 10, "the comment to be saved")
        conv = s.get(f"{CONVERSATIONS}/{conv['id']}", key=a["admin"]).json
        eq(conv["messages"][-1]["feedback"], {"rating": "down", "comment": "Should say we do not know about volcanoes."},
           "the down-vote and its comment through the API")
        screenshot(d, "console-playground-answered")
        one(d, ".toolbar button").click()  # New conversation
        eq(len(css(d, ".turn")), 0, "a new conversation starts empty")
        fresh = ask(d, QUESTION)
        eq(fresh.get_attribute("data-state"), "done", "the new conversation's answer")
        eq(s.get(f"{CONVERSATIONS}?limit=1", key=a["admin"]).json["conversations"][0]["message_count"], 2,
           "the new conversation is a conversation of its own")
        no_errors(d, "playground")


def test_playground_on_a_phone(s):
    a = account()
    with browser() as d:
        phone(d)
        signed_in(d, s, a["admin"])
        go(d, "#/playground")
        settled(d)
        one(d, "#question").send_keys(QUESTION + Keys.ENTER)  # Enter asks
        answer = wait_for(d, lambda d: (css(d, ".turn.assistant[data-state=done]") or [None])[0], 30, "the answer")
        answer.find_element("css selector", "details.sources summary").click()
        width = d.execute_script("return document.documentElement.scrollWidth")
        check(width <= 375, f"the page is {width} px wide on a 375 px screen")
        d.execute_script("window.scrollTo(0, 0)")
        screenshot(d, "console-playground-phone")
        d.execute_script("arguments[0].scrollIntoView()", answer)
        screenshot(d, "console-playground-phone-answer")
        no_errors(d, "playground on a phone")


# ---- conversations, analytics, agents -----------------------------------------------------------------------------

def test_conversations_filter_and_one_conversation(s):
    a = account()
    answered = s.post(CHAT, {"message": QUESTION}, key=a["admin"]).json
    fell = s.post(CHAT, {"message": OFF_TOPIC}, key=a["admin"]).json
    check(fell["fallback_triggered"], f"the off-topic question falls back: {fell!r}")
    with browser() as d:
        signed_in(d, s, a["admin"])
        go(d, "#/conversations")
        settled(d)
        table = one(d, "main table")
        check(OFF_TOPIC[:40] in table.text and QUESTION in table.text, f"both conversations listed: {table.text!r}")
        d.find_element("id", "f-fallbacks").click()
        wait_for(d, lambda d: "fallbacks=true" in d.execute_script("return location.hash"), 5, "the filter in the address")
        settled(d)
        want = s.get(f"{CONVERSATIONS}?fallbacks=true&limit=20", key=a["admin"]).json["conversations"]
        rows = css(d, "main table tbody tr")
        eq(len(rows), len(want), "rows with the fallbacks filter, as the API lists them")
        d.find_element("id", "f-fallbacks").click()
        settled(d)
        link = wait_for(d, lambda d: next((x for x in css(d, "main table a") if x.get_attribute("href").endswith(
            answered["conversation_id"])), None), 10, "the link to the answered conversation")
        link.click()
        turn = one(d, ".turn.assistant")
        wait_for(d, lambda d: "Confidence" in turn.text, 10, "the answer with its confidence")
        check("returns-policy.txt" in turn.find_element("css selector", "details.sources").get_attribute("textContent"),
              "the answer's sources")
        eq(one(d, "main h1").text, QUESTION, "the conversation's title")
        screenshot(d, "console-conversation")
        no_errors(d, "conversations")


def test_analytics_chart_and_try_it(s):
    a = account()
    answered = s.post(CHAT, {"message": QUESTION}, key=a["admin"]).json
    s.post(CHAT, {"message": OFF_TOPIC}, key=a["admin"])
    # an answer rated down, with a comment: the dashboard's down-voted answers
    comment = unique("Should say who pays for the return shipping")
    rated = s.post(f"{CHAT}/messages/{answered['message_id']}/feedback", {"rating": "down", "comment": comment},
                   key=a["admin"])
    eq(rated.status, 200, f"rate the answer down ({rated.describe()})")
    with browser() as d:
        signed_in(d, s, a["admin"])
        go(d, "#/analytics")
        settled(d)
        bars = wait_for(d, lambda d: css(d, "svg.chart rect.bar"), 10, "the chart's bars")
        dash = s.get("/api/v1/analytics/dashboard", key=a["admin"]).json
        days = dash["daily"]
        daily = css(d, "svg.chart")[0]
        eq(len(daily.find_elements("css selector", "rect.bar")), len(days), "one bar per day")
        check(daily.find_element("css selector", "title").get_attribute("textContent"), "the chart's title")
        heights = [float(b.get_attribute("height")) for b in daily.find_elements("css selector", "rect.bar")]
        check(heights[-1] > 0, f"today's bar has a height: {heights[-5:]}")
        check(len(bars) > len(days), "the latency chart has bars too")
        # another metric redraws the chart
        d.find_element("css selector", "input[name=metric][value=tokens]").click()
        wait_for(d, lambda d: "Request tokens per day" in css(d, "svg.chart title")[0].get_attribute("textContent"), 5,
                 "the chat tokens chart")
        d.find_element("css selector", "input[name=metric][value=indexing_tokens]").click()
        wait_for(d, lambda d: "Indexing tokens per day" in css(d, "svg.chart title")[0].get_attribute("textContent"),
                 5, "the indexing tokens chart")
        indexed = [float(b.get_attribute("height")) for b in css(d, "svg.chart")[0].find_elements("css selector", "rect.bar")]
        eq([h > 0 for h in indexed], [x["indexing_tokens"] > 0 for x in days], "the days with indexing tokens")
        d.execute_script("arguments[0].closest('section').scrollIntoView()", css(d, "svg.chart")[0])
        screenshot(d, "console-analytics-chart")
        # indexing tokens: a card of their own, beside the chat tokens, and not again among the unknown fields
        spend = one(d, "section[aria-labelledby=spend-h]")
        card = spend.find_element("xpath", ".//div[dt='Indexing tokens']/dd")
        shown = re.match(r"[\d,]+", card.text)
        check(shown, f"the indexing tokens card shows a number: {card.text!r}")
        eq(int(shown.group().replace(",", "")), dash["totals"]["indexing_tokens"], "the indexing tokens shown")
        check(dash["totals"]["indexing_tokens"] > 0, "the returns policy's indexing counted")
        check("document" in card.text and "indexed" in card.text, f"the documents indexed: {card.text!r}")
        check("Request tokens" in spend.text, f"the request tokens beside them: {spend.text!r}")
        d.execute_script("arguments[0].scrollIntoView()", spend)
        screenshot(d, "console-analytics-spend")
        usage = one(d, "section[aria-labelledby=usage-h]").text
        check("Documents indexed" not in usage and "Indexing tokens" not in usage, f"shown twice: {usage!r}")
        # the down-voted answer: its comment, its conversation and the playground
        down = one(d, "section[aria-labelledby=downvoted-h]")
        eq(down.find_element("css selector", "h2").text, "Down-voted answers", "the section's heading")
        item = wait_for(d, lambda d: next((li for li in down.find_elements("css selector", "li") if comment in li.text),
                                          None), 10, "the down-voted answer with its comment")
        check(QUESTION in item.text, f"the down-voted answer's question: {item.text!r}")
        check("Confidence" in item.text and "%" in item.text, f"its confidence: {item.text!r}")
        link = item.find_element("link text", "Open conversation")
        check(link.get_attribute("href").endswith(f"#/conversations/{answered['conversation_id']}"),
              f"the link to the conversation: {link.get_attribute('href')!r}")
        check("#/playground?q=" in item.find_element("link text", "Try it in the playground").get_attribute("href"),
              "the down-voted question, one click from the playground")
        least = one(d, "section[aria-labelledby=least-sure-h]")
        eq(least.find_element("css selector", "h2").text, "Least confident answers", "the section's heading")
        eq(len(least.find_elements("css selector", "ol > li")), len(dash["lowest_confidence_answers"]),
           "one item per least confident answer")
        if dash["lowest_confidence_answers"]:
            first = least.find_element("css selector", "ol > li")
            check(dash["lowest_confidence_answers"][0]["question"] in first.text, f"the least sure first: {first.text!r}")
            first.find_element("link text", "Open conversation")
        for k in ("downvoted_answers", "lowest_confidence_answers", "indexing_tokens", "documents_indexed"):
            check(not css(d, f"#x-{k}-h"), f"{k} shown again among the unknown fields")
        d.execute_script("document.getElementById('downvoted-h').scrollIntoView()")
        screenshot(d, "console-analytics-answers")
        eq(d.execute_script(LOW_CONTRAST), [], "text under 4.5:1 contrast on the analytics page")
        link.click()
        turn = one(d, ".turn.assistant")
        wait_for(d, lambda d: "Confidence" in turn.text, 10, "the down-voted answer's conversation")
        eq(one(d, "main h1").text, QUESTION, "the conversation opened from the dashboard")
        # on a phone: nothing wider than the screen
        phone(d)
        go(d, "#/analytics")
        settled(d)
        one(d, "section[aria-labelledby=downvoted-h] li")
        width = d.execute_script("return document.documentElement.scrollWidth")
        check(width <= 375, f"the analytics page is {width} px wide on a 375 px screen")
        d.execute_script("document.getElementById('downvoted-h').scrollIntoView()")
        screenshot(d, "console-analytics-answers-phone")
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        # the unanswered question, one click from the playground
        try_it = wait_for(d, lambda d: next((x for x in css(d, "a.try") if OFF_TOPIC[:20] in
                                             x.find_element("xpath", "..").text), None), 10, "the unanswered question")
        d.execute_script("arguments[0].scrollIntoView()", try_it)
        try_it.click()
        wait_for(d, lambda d: d.execute_script("return location.hash").startswith("#/playground"), 5, "the playground")
        eq(one(d, "#question").get_attribute("value"), OFF_TOPIC, "the unanswered question in the playground")
        # fields a newer server may add are shown, and a missing one breaks nothing
        d.execute_script(EXTRA_FIELDS)
        go(d, "#/analytics")
        settled(d)
        text = one(d, "main").text
        for want in ("Indexing tokens", "4,321", "Down-voted answers", "Wrong opening hours", "No comment",
                     "Lowest confidence"):
            check(want in text, f"{want!r} on the dashboard with extra fields")
        check(not css(d, "#latency-h"), "a latency section without latency")
        check(css(d, "svg.chart rect.bar"), "the daily chart with extra fields")
        check(css(d, "#x-lowest_confidence-h") and not css(d, "#x-downvoted_answers-h"),
              "an unknown list shown generically, the down-voted answers in their own section")
        d.execute_script("document.getElementById('x-lowest_confidence-h').scrollIntoView()")
        screenshot(d, "console-analytics-extra")
        no_errors(d, "analytics")


# Wraps fetch so the dashboard's answer carries fields API.md does not list today, and lacks `latency`.
EXTRA_FIELDS = """
const real = window.fetch;
window.fetch = async (...args) => {
  const res = await real(...args);
  if (!String(args[0]).includes('analytics/dashboard') || !res.ok) return res;
  const d = await res.json();
  d.totals.indexing_tokens = 4321;
  delete d.latency;
  d.downvoted_answers = [{question: 'When do you open?', answer: 'Wrong opening hours', confidence: 0.41,
                          conversation_id: '00000000-0000-4000-8000-000000000000', created_at: '2026-01-02T03:04:05Z'}];
  d.lowest_confidence = [{question: 'Gift cards?', confidence: 0.12}];
  return new Response(JSON.stringify(d), {status: 200, headers: {'Content-Type': 'application/json'}});
};
"""


def test_agent_edit_saves(s):
    a = account()
    fallback = "Sorry, that is not in our help pages yet. " + unique("Write to help@example.com")
    name = unique("Sales")
    with browser() as d:
        signed_in(d, s, a["admin"])
        go(d, "#/agents")
        settled(d)
        default = next(x for x in s.get(AGENTS, key=a["admin"]).json["agents"] if x["is_default"])
        one(d, f'button[aria-label="Edit {default["name"]}"]').click()
        form = one(d, "form[aria-labelledby=agent-form-h]")
        box = form.find_element("xpath", ".//label[text()='Fallback message']/following-sibling::textarea")
        box.clear()
        box.send_keys(fallback)
        screenshot(d, "console-agents-edit")
        form.find_element("css selector", "button[type=submit]").click()
        status = one(d, "main > .msgs [role=status]")
        wait_for(d, lambda d: "Saved" in status.text, 10, "the save to be confirmed")
        after = s.get(f"{AGENTS}/{default['id']}", key=a["admin"]).json
        eq(after["fallback_message"], fallback, "the fallback message through the API")
        eq(after["system_prompt"], default["system_prompt"], "the system prompt, untouched")
        # a new agent, then deleted
        one(d, ".actions.start button").click()
        form = one(d, "form[aria-labelledby=agent-form-h]")
        form.find_element("xpath", ".//label[text()='Name']/following-sibling::input").send_keys(name)
        form.find_element("css selector", "button[type=submit]").click()
        wait_for(d, lambda d: name in one(d, "ul.agents").text, 10, "the new agent in the list")
        check(any(x["name"] == name for x in s.get(AGENTS, key=a["admin"]).json["agents"]), "the new agent, stored")
        one(d, f'button[aria-label="Delete {name}"]').click()
        confirm(d)
        wait_for(d, lambda d: name not in one(d, "ul.agents").text, 10, "the agent to go")
        check(not any(x["name"] == name for x in s.get(AGENTS, key=a["admin"]).json["agents"]), "the agent, deleted")
        check(d.find_element("css selector", f'button[aria-label="Delete {default["name"]}"]').get_attribute("disabled"),
              "the default agent's Delete is disabled")
        no_errors(d, "agents")


# ---- the same console behind lighttpd ------------------------------------------------------------------------------

def test_console_on_lighttpd():
    if not shutil.which("lighttpd", path=os.environ.get("PATH", "") + ":/usr/sbin"):
        raise SkipTest("lighttpd is not installed (make deps installs it)")
    s = web_stack("lighttpd")
    name = s.new_account("console-lt", unlimited=True)
    admin = s.new_key(name, name="console admin", scope="admin", per_minute=10000, per_hour=1000000)
    s.wait_document(admin, s.upload_ok(admin, RETURNS_TXT, "returns-policy.txt"), "ready")
    r = s.request("GET", "/console/", parse_json=False)
    check("script-src 'self'" in (r.headers.get("Content-Security-Policy") or ""), "lighttpd sends the console's CSP")
    with browser() as d:
        signed_in(d, s, admin)
        for page in PAGES:
            go(d, f"#/{page}")
            settled(d)
            check(not css(d, ".msg.error:not(:empty)"), f"{page} on lighttpd shows an error")
        go(d, "#/playground")
        settled(d)
        d.execute_script(OBSERVE)
        answer = ask(d, QUESTION)
        eq(answer.get_attribute("data-state"), "done", f"the answer on lighttpd ({answer.text!r})")
        streaming = [p for p in d.execute_script("return window.__pieces") if p["state"] == "streaming"]
        check(len(streaming) >= 2, f"the answer streamed through lighttpd: {streaming!r}")
        no_errors(d, "lighttpd")
