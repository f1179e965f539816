# The chat widget (shared/widget/widget.js, served at /widget.js) in a real browser, on a host page of another
# origin that holds the one line a site owner adds: the bubble and its panel in a shadow root, the agent's name and
# welcome, a streamed answer with its sources and ratings, the conversation across page loads (sessionStorage), a
# phone-sized screen, keyboard use, and the refusals (an origin not on the key's list, a secret key in the page).
# Screenshots go to $BUILDDIR/screenshots/widget-*.png.
import contextlib
import json
import re
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from browser import browser, console_errors, screenshot, wait_for
from harness import ROOT, UUID_RE, check, eq, random_key, stack

WIDGET = ROOT / "shared" / "widget" / "widget.js"
KEYS = "/api/v1/keys"
AGENTS = "/api/v1/agents"
CONVERSATIONS = "/api/v1/chat/conversations"
AGENT_NAME = "Acme Helper"
WELCOME = "Hello! Ask me about returns, shipping or our shops."
SHIPPING_URL = "https://shop.example/help/shipping"

RETURNS_TXT = b"""Returns and refunds

You can return most items within 30 days of delivery for a full refund. Items must be unused and in their
original packaging, with the receipt or the order number.

Refunds go back to the original payment method within 5 to 7 business days after our warehouse receives the
parcel. Sale items, opened software and gift cards cannot be returned.
"""

SHIPPING_MD = b"""# Shipping FAQ

## Shipping costs

Standard shipping is free on orders over 50 dollars; below that it costs 4.95. Express shipping costs 12 dollars.

## International shipping

We ship to more than 40 countries. Customs duties and import taxes are charged to the recipient on arrival.
"""

_site = {}


def site():
    """One account for every test here: two documents (the shipping one with a `url` in its metadata), its default
    agent named and welcoming, and an admin key to make publishable keys with."""
    if not _site:
        s = stack()
        account, key = s.docs_key("widget", unlimited=True)
        ids = [s.upload_ok(key, RETURNS_TXT, "returns-policy.txt"),
               s.upload_ok(key, SHIPPING_MD, "shipping-faq.md", metadata={"url": SHIPPING_URL})]
        for doc_id in ids:
            s.wait_document(key, doc_id, "ready")
        agents = s.get(AGENTS, key=key)
        eq(agents.status, 200, f"list agents ({agents.describe()})")
        agent = next(a for a in agents.json["agents"] if a["is_default"])
        r = s.request("PATCH", f"{AGENTS}/{agent['id']}", key=key,
                      body={"name": AGENT_NAME, "welcome_message": WELCOME})
        eq(r.status, 200, f"name the agent and its welcome ({r.describe()})")
        _site.update(account=account, key=key, admin=s.new_key(account, name="admin", scope="admin"))
    return _site


def publishable(s, origins, **fields):
    """A new publishable key of the site's account for these origins (each test has its own, so each has its own
    visitor limits)."""
    r = s.post(KEYS, dict(name="widget", type="publishable", allowed_origins=origins, **fields), key=site()["admin"])
    eq(r.status, 201, f"create a publishable key ({r.describe()})")
    check(r.json["key"].startswith("faqsure_pk_"), f"a publishable key: {r.json['key'][:12]!r}…")
    return r.json["key"]


# ---- host pages -------------------------------------------------------------------------------------------------

def page(s, key, color="#0f766e", extra="", strict=False):
    """A site owner's page: styles that would break a widget that let them in, and the one line. strict: instead
    of those styles, a Content-Security-Policy that allows no inline style at all, only the API's scripts and
    requests."""
    api = f"http://127.0.0.1:{s.port}"
    head = (f"""<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src {api}; """
            f"""connect-src {api}; img-src data:">""" if strict else """<style>
  body { font: 20px Georgia, serif; color: #a00; margin: 40px; background: #faf7f0; letter-spacing: 2px; }
  button { background: red !important; border: 6px solid lime !important; }
  div { padding: 30px !important; }
  * { text-transform: uppercase; }
</style>""")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>Acme Shop</title>
{head}</head>
<body><h1>Acme Shop</h1><p>Hand-made things, shipped to 40 countries.</p>
<script src="{api}/widget.js" data-key="{key}" data-color="{color}" {extra} async></script>
</body></html>"""


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.pages.get(self.path.split("?")[0])
        self.send_response(200 if body is not None else 404)
        data = (body if body is not None else "not found").encode()
        self.send_header("Content-Type", "text/html; charset=utf-8" if body is not None else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def host_site():
    """A web site of its own on 127.0.0.1 (a free port, a thread): yields (origin, pages), pages a dict path →
    HTML to fill in once the origin is known. Stopped when the block ends."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    httpd.pages = {}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", httpd.pages
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


# ---- the widget inside its shadow root --------------------------------------------------------------------------

SHADOW = "const host = document.querySelector('faqsure-widget'); const root = host && host.shadowRoot;"


def js(d, body, *args):
    """Runs body with `root` (the widget's shadow root, or null) and `host` defined."""
    return d.execute_script(SHADOW + body, *args)


def el(d, css):
    return js(d, "return root && root.querySelector(arguments[0]);", css)


def transcript(d):
    """The messages shown, in order: who ('me', 'bot', 'error'), the text, and an answer's parts."""
    return js(d, """
        return [...root.querySelectorAll('.log > *')].map((n) => ({
          who: n.classList.contains('error') ? 'error' : n.classList.contains('me') ? 'me' : 'bot',
          text: n.classList.contains('error') ? n.textContent : (n.querySelector('.msg') || n).textContent,
          fallback: n.classList.contains('fallback'),
          busy: n.getAttribute('aria-busy') === 'true',
          sources: [...n.querySelectorAll('.src details')].map((x) => ({
            name: x.querySelector('summary').textContent, text: x.querySelector('blockquote').textContent })),
          links: [...n.querySelectorAll('.src a')].map((a) => ({ href: a.getAttribute('href'), text: a.textContent,
            target: a.target, rel: a.rel })),
          rated: [...n.querySelectorAll('.rate button')].map((b) => b.getAttribute('aria-pressed')),
        }));""")


def stored(d, key):
    """What the widget keeps for this key in the page's sessionStorage (parsed), and whether localStorage holds
    anything at all."""
    item = d.execute_script("return sessionStorage.getItem(arguments[0])", "faqsure:" + key[:17])
    return (json.loads(item) if item else None), d.execute_script("return localStorage.length")


def shot(d, name):
    """A screenshot once the widget's transitions are over (the panel fades in)."""
    wait_for(d, lambda d: js(d, "return root.getAnimations().every((a) => a.effect.getTiming().iterations === "
                                "Infinity)"), 5, "the widget's animations to end")
    screenshot(d, name)


def press(d, *names):
    """Presses keys where the focus is: names of selenium's Keys ("TAB", "ENTER", "ESCAPE", "SPACE")."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    ActionChains(d).send_keys(*(getattr(Keys, n) for n in names)).perform()


def load(d, url):
    d.get(url)
    wait_for(d, lambda d: el(d, ".bubble"), 10, "the widget's bubble")


def open_panel(d):
    el(d, ".bubble").click()
    wait_for(d, lambda d: js(d, "return !root.querySelector('.panel').hidden && "
                                "!root.querySelector('.log [aria-busy=true]')"), 10, "the panel, started")


def ask(d, question):
    """Types a question and presses Enter; waits for the answer (its ratings) or an error line; returns it."""
    before = len(transcript(d))
    el(d, "textarea").send_keys(question + "\n")

    def answered(d):
        t = transcript(d)
        return len(t) >= before + 2 and not t[-1]["busy"] and (t[-1]["rated"] or t[-1]["who"] == "error") and t
    t = wait_for(d, answered, 20, f"the answer to {question!r}")
    eq(t[-2], dict(t[-2], who="me", text=question), "the question shown")
    check(t[-1]["who"] == "bot", f"{question!r} was answered with an error line: {t[-1]['text']!r}")
    return t[-1]


def count_text_changes(d):
    """From now on, counts the text changes inside the widget (each streamed piece is one)."""
    js(d, """window.__changes = 0;
             new MutationObserver((l) => { window.__changes += l.filter((m) => m.type === 'characterData').length; })
               .observe(root, { subtree: true, characterData: true });""")


def luminance(rgb):
    def lin(v):
        v /= 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def rgb(css):
    m = re.match(r"rgba?\((\d+), (\d+), (\d+)", css)
    check(m is not None, f"a computed colour: {css!r}")
    return tuple(int(x) for x in m.groups())


def contrast(a, b):
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def unexpected_errors(d, allowed=()):
    """The page's console errors, except those matching one of the allowed patterns."""
    return [e for e in console_errors(d) if not any(re.search(p, e) for p in allowed)]


# ---- tests ------------------------------------------------------------------------------------------------------

def test_widget_file_is_small_and_served(s):
    r = s.get("/widget.js", parse_json=False)
    eq(r.status, 200, f"GET /widget.js ({r.describe()})")
    check("javascript" in r.headers.get("Content-Type", ""), f"Content-Type {r.headers.get('Content-Type')!r}")
    source = WIDGET.read_bytes()
    eq(r.body, source, "the served script is shared/widget/widget.js")
    check(len(source) < 30 * 1024, f"widget.js is {len(source)} bytes, the target is under 30 KB")
    text = source.decode()
    check(re.search(r"\.(innerHTML|outerHTML|insertAdjacentHTML|write)\b|DOMParser", text) is None,
          "widget.js builds its DOM without HTML strings")
    check(re.search(r"localStorage\s*[.\[]", text) is None, "widget.js keeps nothing in localStorage")


def test_widget_bubble_opens_by_keyboard_with_agent_and_welcome(s):
    site()
    with host_site() as (origin, pages), browser() as d:
        key = publishable(s, [origin])
        pages["/"] = page(s, key, color="#fde047")  # a light accent: the text on it must be black
        load(d, origin + "/")
        check(js(d, "return root.mode === 'open' && host.parentNode === document.body"), "a shadow root on the body")
        bubble = el(d, ".bubble")
        eq((bubble.tag_name, bubble.get_attribute("aria-label"), bubble.get_attribute("aria-expanded")),
           ("button", "Open chat", "false"), "the bubble: a labelled button, collapsed")
        check(el(d, ".panel").get_attribute("hidden") is not None, "the panel is hidden at first")
        look = js(d, """const b = root.querySelector('.bubble'), cs = getComputedStyle(b);
                        const r = b.getBoundingClientRect();
                        return [cs.backgroundColor, cs.color, cs.borderTopWidth, r.right, r.bottom, innerWidth,
                                innerHeight];""")
        eq(rgb(look[0]), (253, 224, 71), "the bubble in the accent colour (data-color)")
        eq(rgb(look[1]), (0, 0, 0), "black text on a light accent")
        check(contrast(rgb(look[0]), rgb(look[1])) >= 4.5, f"contrast of the bubble's icon: {look[:2]}")
        eq(look[2], "0px", "the page's button styles do not reach the bubble")
        check(look[5] - 40 < look[3] <= look[5] and look[6] - 40 < look[4] <= look[6],
              f"the bubble at the bottom right: {look}")
        shot(d, "widget-closed")

        # by keyboard: Tab reaches the bubble, Enter opens, the focus goes to the question
        press(d, "TAB")
        eq(js(d, "return document.activeElement === host && root.activeElement === root.querySelector('.bubble')"),
           True, "Tab reaches the bubble")
        press(d, "ENTER")
        wait_for(d, lambda d: js(d, "return root.querySelector('.welcome') !== null"), 10, "the welcome message")
        panel = el(d, ".panel")
        eq((panel.get_attribute("role"), el(d, ".bubble").get_attribute("aria-expanded")), ("dialog", "true"),
           "an open dialog")
        eq(js(d, "return root.getElementById(root.querySelector('.panel').getAttribute('aria-labelledby'))"
                 ".textContent"), AGENT_NAME, "the dialog is labelled with the agent's name")
        eq(el(d, ".head h2").get_attribute("textContent"), AGENT_NAME, "the agent's name in the header")
        eq(transcript(d)[0]["text"], WELCOME, "the welcome message first")
        eq(el(d, ".log").get_attribute("aria-live"), "polite", "the messages are a polite live region")
        eq(js(d, "return root.activeElement === root.querySelector('textarea')"), True, "the focus is on the input")
        eq(js(d, "return getComputedStyle(root.querySelector('.msg')).textTransform"), "none",
           "the page's styles do not reach the messages")

        # Escape closes and gives the focus back to the bubble
        press(d, "ESCAPE")
        check(el(d, ".panel").get_attribute("hidden") is not None, "Escape closes the panel")
        eq(js(d, "return root.activeElement === root.querySelector('.bubble')"), True,
           "the focus is back on the bubble")
        eq(el(d, ".bubble").get_attribute("aria-expanded"), "false", "collapsed again")
        press(d, "SPACE")  # opens it again, the transcript as it was
        wait_for(d, lambda d: el(d, ".panel").get_attribute("hidden") is None, 5, "the panel reopened")
        eq(len(transcript(d)), 1, "reopening does not load the agent twice")
        eq(unexpected_errors(d), [], "browser console errors")


def test_widget_streams_answers_with_sources_and_keeps_the_conversation(s):
    k = site()
    with host_site() as (origin, pages), browser() as d:
        key = publishable(s, [origin])
        pages["/"] = page(s, key)
        pages["/other.html"] = page(s, key).replace("<h1>Acme Shop</h1>", "<h1>Another page</h1>")
        load(d, origin + "/")
        open_panel(d)
        count_text_changes(d)
        a = ask(d, "What is your return policy?")
        check("30 days" in a["text"], f"the answer gives the return window: {a['text']!r}")
        check(js(d, "return window.__changes") >= 2,
              f"the answer was shown piece by piece ({js(d, 'return window.__changes')} text changes)")
        check(not a["fallback"], "an answer from the knowledge base")
        check(a["sources"] and a["sources"][0]["name"] == "returns-policy.txt", f"the sources: {a['sources']!r}")
        check("Refunds go back to the original payment method" in a["sources"][0]["text"],
              f"the passage under its file name: {a['sources'][0]['text']!r}")
        eq(a["rated"], ["false", "false"], "two unpressed ratings")
        # a passage opens in place
        js(d, "root.querySelector('.src summary').click()")
        check(js(d, "return root.querySelector('.src details').open"), "a source opens on click")

        saved, local = stored(d, key)
        check(saved and UUID_RE.match(saved.get("conversation_id") or "") and
              re.fullmatch(r"fv_[A-Za-z0-9]{43}", saved.get("visitor_token") or ""),
              f"sessionStorage holds the conversation and the visitor token: {saved!r}")
        eq(local, 0, "localStorage items")
        conversation = saved["conversation_id"]

        # a rating is sent with the visitor's token
        js(d, "root.querySelectorAll('.turn.bot')[1].querySelector('.rate .up').click()")
        wait_for(d, lambda d: "Thanks" in js(d, "return root.querySelectorAll('.turn.bot')[1]"
                                                ".querySelector('.rate').textContent"), 10, "the rating's thanks")
        conv = s.get(f"{CONVERSATIONS}/{conversation}", key=k["key"])
        eq(conv.status, 200, f"the conversation through the API ({conv.describe()})")
        eq(conv.json["messages"][1]["feedback"]["rating"], "up", "the rating stored")

        # a question the knowledge base does not answer: the fallback, muted, without sources
        b = ask(d, "What makes volcanoes erupt, and how does magma form?")
        check(b["fallback"] and not b["sources"] and not b["links"], f"a fallback without sources: {b!r}")
        eq(js(d, "return getComputedStyle(root.querySelectorAll('.turn.bot .msg')[2]).fontStyle"), "italic",
           "a fallback looks muted")
        # a source whose metadata has a url is a link
        c = ask(d, "How much does express shipping cost?")
        check("12 dollars" in c["text"], f"the express shipping answer: {c['text']!r}")
        check({"href": SHIPPING_URL, "text": "shipping-faq.md · Shipping costs", "target": "_blank",
               "rel": "noopener noreferrer"} in c["links"], f"the shipping source as a link: {c['links']!r}")
        shot(d, "widget-answer")
        before = transcript(d)

        # another page of the site: the panel reopens with the conversation, and a follow-up continues it
        d.get(origin + "/other.html")
        wait_for(d, lambda d: el(d, ".panel") and el(d, ".panel").get_attribute("hidden") is None
                 and len(transcript(d)) == len(before) and not js(d, "return root.querySelector('[aria-busy=true]')"),
                 10, "the conversation restored on the next page")
        after = transcript(d)
        eq([(m["who"], m["text"], m["fallback"], m["sources"], m["links"]) for m in after],
           [(m["who"], m["text"], m["fallback"], m["sources"], m["links"]) for m in before],
           "the transcript after the page load")
        eq(after[2]["rated"], ["true", "false"], "the rating restored")
        eq(js(d, "return root.activeElement"), None, "restoring does not take the page's focus")
        e = ask(d, "Do you ship to other countries?")
        check("40 countries" in e["text"], f"the follow-up's answer: {e['text']!r}")
        eq(stored(d, key)[0]["conversation_id"], conversation, "the same conversation after the follow-up")
        conv = s.get(f"{CONVERSATIONS}/{conversation}", key=k["key"])
        eq(conv.status, 200, f"the conversation through the API ({conv.describe()})")
        eq([m["role"] for m in conv.json["messages"]], ["user", "assistant"] * 4, "four questions, four answers")
        eq(unexpected_errors(d), [], "browser console errors")


def test_widget_on_a_phone(s):
    site()
    with host_site() as (origin, pages), browser() as d:
        key = publishable(s, [origin])
        # a page under a strict Content-Security-Policy: the widget's styles must still apply
        pages["/"] = page(s, key, extra='data-position="left" data-title="Help centre"', strict=True)
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": 375, "height": 740, "deviceScaleFactor": 2, "mobile": True})
        d.execute_cdp_cmd("Emulation.setEmulatedMedia",
                          {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})
        load(d, origin + "/")
        r = js(d, "const r = root.querySelector('.bubble').getBoundingClientRect(); return [r.left, r.bottom];")
        check(r[0] < 40 and r[1] > 700, f"the bubble at the bottom left (data-position): {r}")
        open_panel(d)
        eq(el(d, ".head h2").get_attribute("textContent"), "Help centre", "the title of data-title")
        a = ask(d, "How do I return an item?")
        check("30 days" in a["text"], f"the answer: {a['text']!r}")
        box = js(d, """const r = root.querySelector('.panel').getBoundingClientRect();
                       return [r.left, r.top, r.width, r.height, innerWidth, innerHeight,
                               getComputedStyle(root.querySelector('.bubble')).display,
                               document.documentElement.scrollWidth];""")
        eq(box[:6], [0, 0, 375, 740, 375, 740], "the panel covers the screen")
        eq(box[6], "none", "no bubble over the open panel")
        eq(box[7], 375, "nothing wider than the screen")
        eq(js(d, "return getComputedStyle(root.querySelector('.panel')).animationName"), "none",
           "no animation for a visitor who asks for reduced motion")
        # the header on the accent (#0f766e) and the messages: readable
        for sel in (".head h2", ".turn.me .msg", ".turn.bot .msg", ".note, .src summary"):
            fg, bg = js(d, "const e = root.querySelector(arguments[0]); if (!e) return [null, null];"
                           "let b = e, c; do { c = getComputedStyle(b).backgroundColor; b = b.parentElement; }"
                           " while (b && /rgba\\(.*, 0\\)$/.test(c)); return [getComputedStyle(e).color, c];", sel)
            if fg:
                check(contrast(rgb(fg), rgb(bg)) >= 4.5, f"contrast of {sel}: {fg} on {bg}")
        shot(d, "widget-phone")
        el(d, ".head .x").click()
        check(el(d, ".panel").get_attribute("hidden") is not None, "the close button closes the panel")
        eq(js(d, "return root.activeElement === root.querySelector('.bubble')"), True,
           "the focus is back on the bubble")
        eq(unexpected_errors(d), [], "browser console errors")


def test_widget_refused_on_an_origin_not_allowed(s):
    site()
    with host_site() as (allowed, _), host_site() as (elsewhere, pages), host_site() as (listed, pages2), \
            browser() as d:
        key = publishable(s, [allowed])
        # an origin on no key's list: the preflight fails; one on another key's list: the API refuses the key here
        publishable(s, [listed])
        for origin, where in ((elsewhere, pages), (listed, pages2)):
            where["/"] = page(s, key)
            load(d, origin + "/")
            open_panel(d)
            t = transcript(d)
            eq([(m["who"], m["text"]) for m in t],
               [("error", "This chat is not enabled for this website (its address is not allowed).")],
               f"the widget on {origin}")
            eq(el(d, "textarea").get_attribute("disabled"), "true", "nothing to type")
            eq(stored(d, key)[0].get("agent"), None, "nothing about the agent kept")
        shot(d, "widget-refused")
        # only the refusals themselves in the console: CORS, the failed loads, the widget's word to the site owner
        eq(unexpected_errors(d, (r"CORS policy", r"net::ERR_FAILED", r"status of 403", r"FAQSure widget: the API")),
           [], "browser console errors besides the refusals")


def test_widget_says_when_to_ask_again(s):
    site()
    left = 3600 - time.time() % 3600
    if left < 10:  # the key's hourly window must not end between the two requests
        time.sleep(left + 0.5)
    with host_site() as (origin, pages), browser() as d:
        key = publishable(s, [origin], rate_limit_per_hour=1)
        pages["/"] = page(s, key)
        load(d, origin + "/")
        open_panel(d)  # the agent: the hour's one request
        el(d, "textarea").send_keys("What is your return policy?\n")
        wait_for(d, lambda d: transcript(d)[-1]["who"] == "error", 10, "the refusal")
        t = transcript(d)
        check(re.fullmatch(r"Too many questions, try again in \d+ (s|min)\.", t[-1]["text"]),
              f"the 429 said: {t[-1]['text']!r}")
        eq([m["who"] for m in t], ["bot", "me", "error"], "the welcome, the question, the refusal")
        check(el(d, "textarea").get_attribute("disabled") is None, "the visitor may ask again later")
        eq(unexpected_errors(d, (r"status of 429",)), [], "browser console errors besides the 429")


def test_widget_forgets_a_conversation_that_is_gone(s):
    site()
    with host_site() as (origin, pages), browser() as d:
        key = publishable(s, [origin])
        pages["/"] = page(s, key)
        d.get(origin + "/")
        d.execute_script("sessionStorage.setItem(arguments[0], JSON.stringify(arguments[1]))", "faqsure:" + key[:17],
                         {"conversation_id": str(uuid.uuid4()), "visitor_token": "fv_" + secrets.token_hex(21)[:43],
                          "open": True})
        load(d, origin + "/")
        wait_for(d, lambda d: js(d, "return root.querySelector('.welcome') !== null && "
                                    "!root.querySelector('[aria-busy=true]')"), 10, "the widget started afresh")
        eq([m["who"] for m in transcript(d)], ["bot"], "the welcome alone, no error")
        saved = stored(d, key)[0]
        check("conversation_id" not in saved and "visitor_token" not in saved, f"forgotten: {saved!r}")
        eq(unexpected_errors(d, (r"status of 404",)), [], "browser console errors besides the 404")


def test_widget_refuses_a_secret_key_in_the_page(s):
    site()
    with host_site() as (origin, pages), browser() as d:
        pages["/"] = page(s, random_key())
        d.get(origin + "/")
        errors = wait_for(d, lambda d: console_errors(d), 10, "the widget's console error")
        check(any("SECRET key" in e and "must never be put in a web page" in e for e in errors),
              f"the console says why: {errors!r}")
        eq(d.execute_script("return document.querySelector('faqsure-widget')"), None, "no widget")
