/* FAQSure chat widget. A site owner adds one line to any page of their site:
 *
 *   <script src="https://HOST/widget.js" data-key="faqsure_pk_…" async></script>
 *
 *   data-key       a publishable key (required; a secret key, faqsure_sk_…, is refused)
 *   data-color     the accent colour, any CSS colour (default #2563eb)
 *   data-position  right (default) or left
 *   data-title     the panel's title instead of the agent's name
 *
 * It talks to the API beside it (https://HOST/prefix/widget.js calls https://HOST/prefix/api/v1/), lives in a
 * shadow root with its own styles, and sets text from the server only as textContent. The visitor's conversation
 * ({conversation_id, visitor_token}) is kept in the page's sessionStorage, which ends with the tab (never in
 * localStorage, which would outlive it). No dependencies.
 */
(() => {
  'use strict';

  const DEFAULT_COLOR = '#2563eb';
  const NOT_ALLOWED = 'This chat is not enabled for this website (its address is not allowed).';
  const OFFLINE = 'Cannot reach the chat service. Check your connection and try again.';
  const UNAVAILABLE = 'The assistant is unavailable right now. Please try again later.';

  // ---- the script element, its attributes, the API

  const findScript = () => {
    const cur = document.currentScript;
    if (cur && cur.src && !cur.faqsure) return cur;
    return [...document.querySelectorAll('script[data-key][src*="widget.js"]')].find((s) => !s.faqsure);
  };
  const script = findScript();
  if (!script) return;
  script.faqsure = true;

  const key = (script.getAttribute('data-key') || '').trim();
  if (key.startsWith('faqsure_sk_')) {
    console.error('FAQSure widget: data-key holds a SECRET key (faqsure_sk_…). A secret key must never be put in a ' +
      'web page, where anyone can read it: revoke it now, and give the widget a publishable key (faqsure_pk_…) ' +
      'whose allowed origins list this site. The widget does not start.');
    return;
  }
  if (!/^faqsure_pk_[A-Za-z0-9]+$/.test(key)) {
    console.error('FAQSure widget: data-key must be a publishable key (faqsure_pk_…). The widget does not start.');
    return;
  }
  const PREFIX = key.slice(0, 17); // the key's display prefix: faqsure_pk_ + 6
  const API = new URL('api/v1/', script.src); // relative to the script's own directory
  const attr = (name) => (script.getAttribute('data-' + name) || '').trim();
  const TITLE = attr('title');
  const LEFT = attr('position').toLowerCase() === 'left';

  // ---- this tab's storage

  const STORE = 'faqsure:' + PREFIX;
  const state = (() => {
    try {
      const v = JSON.parse(sessionStorage.getItem(STORE));
      return v && typeof v === 'object' ? v : {};
    } catch (e) {
      return {};
    }
  })();
  const save = () => {
    try {
      sessionStorage.setItem(STORE, JSON.stringify(state));
    } catch (e) { /* storage refused (sandboxed frame): the conversation lasts as long as this page */ }
  };
  const forget = () => {
    delete state.conversation_id;
    delete state.visitor_token;
    save();
  };

  // ---- colours: the accent, black or white text on it, and a shade that reads on white

  const rgbOf = (color) => { // any CSS colour, as painted over white → [r, g, b]
    try {
      const x = document.createElement('canvas').getContext('2d');
      x.fillStyle = '#fff';
      x.fillRect(0, 0, 1, 1);
      x.fillStyle = color;
      x.fillRect(0, 0, 1, 1);
      return [...x.getImageData(0, 0, 1, 1).data].slice(0, 3);
    } catch (e) {
      return null;
    }
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((v) => (v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a, b) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);

  const colors = ((value) => {
    let accent = DEFAULT_COLOR;
    if (value) {
      const word = /^(inherit|initial|unset|revert|revert-layer|currentcolor|transparent)$/i.test(value);
      if (!word && !/var\(/i.test(value) && window.CSS && CSS.supports('color', value)) accent = value;
      else console.warn(`FAQSure widget: data-color "${value}" is not a usable CSS colour; using ${DEFAULT_COLOR}.`);
    }
    const L = luminance(rgbOf(accent) || [37, 99, 235]);
    return {
      accent,
      // whichever of white and black contrasts more with the accent: at least 4.58:1 whatever the colour
      on: contrast(L, 1) >= contrast(L, 0) ? '#fff' : '#000',
      // links, focus rings and pressed ratings sit on white: the accent if it reads there, else a dark grey
      ink: contrast(L, 1) >= 4.5 ? accent : '#1f2937',
    };
  })(attr('color'));

  // ---- DOM helpers: elements and text nodes, never HTML strings

  const h = (tag, props, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    e.append(...kids.filter((c) => c != null));
    return e;
  };

  const ICONS = {
    chat: 'M6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H11l-5 4v-4.1A2.5 2.5 0 0 1 4 13.5v-8A2.5 2.5 0 0 1 ' +
      '6.5 3z',
    close: 'M6 6l12 12M18 6L6 18',
    down: 'M6 9l6 6 6-6',
    send: 'M4 12L20 4l-6 16-2.5-6.5zM11.5 13.5L20 4',
    thumb: 'M7 11v9H4v-9zM7 11l4-7.5a2 2 0 0 1 3.5 1.6L13.5 10h5a2 2 0 0 1 2 2.4l-1.3 6A2 2 0 0 1 17.2 20H7',
  };
  const icon = (name) => {
    const NS = 'http://www.w3.org/2000/svg';
    const s = document.createElementNS(NS, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', ICONS[name]);
    s.append(p);
    return s;
  };

  const STYLE = `
:host { all: initial; color-scheme: light; --accent: ${colors.accent}; --on: ${colors.on}; --ink: ${colors.ink}; }
*, *::before, *::after { box-sizing: border-box; }
.fs { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1b1c1f; text-align: left; -webkit-font-smoothing: antialiased; }
svg { width: 20px; height: 20px; fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round;
  stroke-linejoin: round; }
button { font: inherit; cursor: pointer; }
button:focus-visible, summary:focus-visible, a:focus-visible, .log:focus-visible {
  outline: 3px solid var(--ink); outline-offset: 2px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }

.bubble { position: fixed; bottom: 20px; right: 20px; z-index: 2147483000; width: 58px; height: 58px; padding: 0;
  border: 0; border-radius: 50%; background: var(--accent); color: var(--on); display: grid; place-items: center;
  box-shadow: 0 4px 16px rgba(0,0,0,.28); transition: transform .15s; }
.bubble:hover { transform: scale(1.06); }
.bubble svg { width: 28px; height: 28px; }
.bubble:focus-visible { outline-offset: 3px; box-shadow: 0 0 0 3px #fff, 0 4px 16px rgba(0,0,0,.28); }
.left .bubble { right: auto; left: 20px; }

.panel { position: fixed; bottom: 92px; right: 20px; z-index: 2147483000; width: 380px; max-width: calc(100vw - 40px);
  height: 600px; max-height: calc(100vh - 112px); display: flex; flex-direction: column; overflow: hidden;
  background: #fff; border-radius: 16px; box-shadow: 0 12px 48px rgba(0,0,0,.28);
  transform-origin: bottom right; animation: fs-in .18s ease-out; }
.panel[hidden] { display: none; }
.left .panel { right: auto; left: 20px; transform-origin: bottom left; }
@keyframes fs-in { from { opacity: 0; transform: translateY(12px) scale(.98); } }
.head { flex: none; display: flex; align-items: center; gap: 10px; padding: 12px 10px 12px 18px;
  background: var(--accent); color: var(--on); }
.head h2 { flex: 1; margin: 0; font-size: 16px; font-weight: 600; line-height: 1.3; color: inherit;
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.x { width: 38px; height: 38px; padding: 0; border: 0; border-radius: 8px; background: transparent; color: inherit;
  display: grid; place-items: center; }
.x:hover { background: rgba(127,127,127,.25); }
.head .x:focus-visible { outline-color: currentColor; outline-offset: -3px; }

.log { flex: 1; overflow-y: auto; overscroll-behavior: contain; padding: 16px 14px; display: flex;
  flex-direction: column; gap: 12px; }
.turn { max-width: 88%; display: flex; flex-direction: column; align-items: flex-start; }
.turn.me { align-self: flex-end; align-items: flex-end; }
.msg { padding: 9px 13px; border-radius: 16px 16px 16px 4px; background: #f0f2f5; white-space: pre-wrap;
  overflow-wrap: anywhere; }
.me .msg { border-radius: 16px 16px 4px 16px; background: var(--accent); color: var(--on); }
.fallback .msg { background: #fff; border: 1px dashed #8d939c; color: #50555c; font-style: italic; }
.note { margin: 3px 4px 0; font-size: 12px; color: #5c6169; }
.error { padding: 9px 12px; border: 1px solid #f3c2bd; border-radius: 10px; background: #fdeceb; color: #8b1a12;
  font-size: 14px; }
.typing { display: inline-flex; gap: 4px; padding: 5px 0; }
.typing i { width: 7px; height: 7px; border-radius: 50%; background: #7a808a; animation: fs-dot 1s infinite; }
.typing i:nth-child(2) { animation-delay: .15s; }
.typing i:nth-child(3) { animation-delay: .3s; }
@keyframes fs-dot { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }

.src { width: 100%; margin-top: 6px; display: flex; flex-direction: column; gap: 4px; font-size: 13px; }
.src-h { margin: 0 2px; font-size: 12px; font-weight: 600; color: #5c6169; }
.src details, .src a { border: 1px solid #dfe2e6; border-radius: 8px; background: #fff; }
.src summary { padding: 5px 10px; color: #30343a; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.src details[open] summary { border-bottom: 1px solid #eceef1; }
.src blockquote { margin: 0; padding: 7px 10px 9px; color: #3b3f45; white-space: pre-line; overflow-wrap: anywhere; }
.src a { display: block; padding: 5px 10px; color: var(--ink); overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; }
.src a::after { content: " \\2197"; }

.rate { margin-top: 4px; display: flex; align-items: center; gap: 2px; font-size: 12px; color: #5c6169; }
.rate button { width: 32px; height: 32px; padding: 0; border: 0; border-radius: 8px; background: transparent;
  color: #5c6169; display: grid; place-items: center; }
.rate button:hover { background: #f0f2f5; }
.rate button[aria-pressed=true] { color: var(--ink); background: #e8ebef; }
.rate button[aria-pressed=true] svg { fill: currentColor; fill-opacity: .25; }
.rate svg { width: 17px; height: 17px; }
.rate .dn svg { transform: rotate(180deg); }

form { flex: none; display: flex; align-items: flex-end; gap: 8px; padding: 10px 12px 12px;
  border-top: 1px solid #e3e6ea; }
textarea { flex: 1; min-height: 42px; max-height: 128px; margin: 0; padding: 10px 12px; resize: none;
  font: inherit; line-height: 1.4; color: #1b1c1f; background: #fff; border: 1px solid #868c95; border-radius: 12px; }
textarea::placeholder { color: #6b7079; }
textarea:focus { outline: 2px solid var(--ink); outline-offset: -1px; border-color: transparent; }
textarea:disabled { background: #f0f2f5; }
.send { flex: none; width: 42px; height: 42px; padding: 0; border: 0; border-radius: 12px; background: var(--accent);
  color: var(--on); display: grid; place-items: center; }
.send:disabled { opacity: .45; cursor: default; }

@media (max-width: 480px) { /* a phone: the panel takes the screen */
  .panel, .left .panel { inset: 0; width: auto; height: auto; max-width: none; max-height: none; border-radius: 0; }
  .open .bubble { display: none; }
  textarea { font-size: 16px; }
}
@media (prefers-reduced-motion: reduce) {
  .panel, .typing i { animation: none; }
  .bubble { transition: none; }
  .bubble:hover { transform: none; }
}`;

  // ---- the UI

  const ui = {};
  let started = false; // opened once: the agent loaded, the transcript restored
  let busy = true;     // the start or a question is under way: Send waits
  let blocked = false; // the API refuses this page for good (origin not allowed, key refused)

  function build() {
    const host = h('faqsure-widget', { 'data-key': PREFIX });
    // Styles go in through the CSSOM and a constructed style sheet, which a page's Content-Security-Policy allows
    // without 'unsafe-inline' (a <style> element is the fallback for browsers without adoptedStyleSheets).
    host.style.setProperty('all', 'initial', 'important');
    host.style.setProperty('position', 'fixed', 'important');
    host.style.setProperty('z-index', '2147483000', 'important');
    ui.root = host.attachShadow({ mode: 'open' });
    ui.title = h('h2', { id: 'fs-title', text: TITLE || 'Chat' });
    ui.close = h('button', { type: 'button', class: 'x', 'aria-label': 'Close chat', onclick: () => close(true) },
      icon('close'));
    ui.log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages', tabindex: '0' });
    ui.input = h('textarea', { id: 'fs-input', rows: '1', maxlength: '4000', placeholder: 'Ask a question…',
      oninput: () => { grow(); updateSend(); }, onkeydown: (e) => {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) onSubmit(e);
      } });
    ui.send = h('button', { type: 'submit', class: 'send', 'aria-label': 'Send', disabled: true }, icon('send'));
    ui.panel = h('div', { class: 'panel', id: 'fs-panel', role: 'dialog', 'aria-labelledby': 'fs-title', hidden: true },
      h('div', { class: 'head' }, ui.title, ui.close),
      ui.log,
      h('form', { onsubmit: onSubmit }, h('label', { class: 'sr', for: 'fs-input', text: 'Your question' }),
        ui.input, ui.send));
    ui.bubble = h('button', { type: 'button', class: 'bubble', 'aria-label': 'Open chat', 'aria-expanded': 'false',
      'aria-controls': 'fs-panel', onclick: () => (ui.panel.hidden ? open(true) : close(true)) }, icon('chat'));
    ui.box = h('div', { class: LEFT ? 'fs left' : 'fs', onkeydown: (e) => {
      if (e.key === 'Escape' && !ui.panel.hidden) {
        e.stopPropagation();
        close(true);
      }
    } }, ui.panel, ui.bubble);
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLE);
      ui.root.adoptedStyleSheets = [sheet];
    } catch (e) {
      ui.root.append(h('style', { text: STYLE }));
    }
    ui.root.append(ui.box);
    document.body.append(host);
  }

  const grow = () => {
    ui.input.style.height = 'auto';
    ui.input.style.height = Math.min(ui.input.scrollHeight + 2, 128) + 'px';
  };

  function updateSend() {
    if (blocked && !ui.input.disabled) {
      const focused = ui.root.activeElement === ui.input;
      ui.input.disabled = true;
      ui.input.placeholder = 'Chat unavailable';
      if (focused) ui.close.focus();
    }
    ui.send.disabled = blocked || busy || !ui.input.value.trim();
  }

  function setBusy(b) {
    busy = b;
    ui.log.setAttribute('aria-busy', String(b));
    updateSend();
  }

  function setOpen(on) {
    ui.panel.hidden = !on;
    ui.box.classList.toggle('open', on);
    ui.bubble.setAttribute('aria-expanded', String(on));
    ui.bubble.setAttribute('aria-label', on ? 'Close chat' : 'Open chat');
    ui.bubble.replaceChildren(icon(on ? 'down' : 'chat'));
    state.open = on;
    save();
  }

  function open(focus) {
    setOpen(true);
    if (focus) (blocked ? ui.close : ui.input).focus();
    if (!started) {
      started = true;
      start();
    }
  }

  function close(focusBubble) {
    setOpen(false);
    if (focusBubble) ui.bubble.focus();
  }

  const nearBottom = () => ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 80;
  const toBottom = () => { ui.log.scrollTop = ui.log.scrollHeight; };
  const add = (node) => {
    ui.log.append(node);
    toBottom();
    return node;
  };
  const errorLine = (text) => h('div', { class: 'error', role: 'alert', text });
  const addUser = (text) => add(h('div', { class: 'turn me' }, h('div', { class: 'msg', text })));
  const addPending = () => add(h('div', { class: 'turn bot', 'aria-busy': 'true' }, h('div', { class: 'msg' },
    h('span', { class: 'typing', role: 'img', 'aria-label': 'The assistant is typing' }, h('i'), h('i'), h('i')))));

  // The pending turn becomes an error line.
  function fail(turn, text) {
    turn.replaceWith(errorLine(text));
    toBottom();
  }

  // An answer: its text, then (unless it fell back) its sources, then the ratings.
  function finish(turn, a) {
    turn.firstChild.textContent = typeof a.message === 'string' ? a.message : String(a.content || '');
    turn.removeAttribute('aria-busy');
    if (a.fallback_triggered) {
      turn.classList.add('fallback');
      turn.append(h('p', { class: 'note', text: 'No answer found in the knowledge base.' }));
    } else if (Array.isArray(a.sources) && a.sources.length) {
      turn.append(sources(a.sources));
    }
    const id = a.message_id || a.id;
    if (id) turn.append(ratings(id, a.feedback && a.feedback.rating));
  }

  const safeUrl = (u) => {
    try {
      const url = new URL(u);
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
    } catch (e) {
      return null;
    }
  };

  // A passage as written: its paragraphs, without the line breaks of wrapped lines.
  const passage = (text) => String(text || '').split(/\n\s*\n/).map((p) => p.replace(/\s+/g, ' ').trim())
    .filter(Boolean).join('\n\n');

  // An opened passage scrolls into the list's view.
  const reveal = (e) => {
    const r = e.target.getBoundingClientRect();
    const l = ui.log.getBoundingClientRect();
    if (e.target.open && r.bottom > l.bottom) ui.log.scrollTop += Math.min(r.bottom - l.bottom + 8, r.top - l.top - 8);
  };

  function sources(list) {
    const box = h('div', { class: 'src' }, h('p', { class: 'src-h', text: 'Sources' }));
    for (const s of list) {
      if (!s || typeof s !== 'object') continue;
      const meta = s.metadata && typeof s.metadata === 'object' ? s.metadata : {};
      // the file (or the title its metadata gives) and the passage's own heading: two passages of one file differ
      const section = typeof meta.section === 'string' ? meta.section.split(' > ').pop().trim() : '';
      const file = typeof meta.title === 'string' && meta.title ? meta.title : String(s.document_filename || 'Source');
      const name = section && section !== file ? `${file} · ${section}` : file;
      const url = typeof meta.url === 'string' && safeUrl(meta.url);
      box.append(url
        ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', title: passage(s.text), text: name })
        : h('details', { ontoggle: reveal }, h('summary', { text: name }), h('blockquote', { text: passage(s.text) })));
    }
    return box;
  }

  function ratings(id, given) {
    const note = h('span', { role: 'status' });
    const buttons = [['up', 'Helpful', 'up'], ['down', 'Not helpful', 'dn']].map(([rating, label, cls]) =>
      h('button', { type: 'button', class: cls, 'aria-label': label, title: label,
        'aria-pressed': String(given === rating), onclick: () => rate(id, rating, buttons, note) }, icon('thumb')));
    return h('div', { class: 'rate' }, ...buttons, note);
  }

  async function rate(id, rating, buttons, note) {
    const before = buttons.map((b) => b.getAttribute('aria-pressed'));
    buttons[0].setAttribute('aria-pressed', String(rating === 'up'));
    buttons[1].setAttribute('aria-pressed', String(rating === 'down'));
    note.textContent = '';
    let problem;
    try {
      const res = await call('POST', `chat/messages/${encodeURIComponent(id)}/feedback`, { rating }, true);
      if (res.ok) {
        note.textContent = 'Thanks for your feedback.';
        return;
      }
      problem = await failure(res);
    } catch (e) {
      problem = OFFLINE;
    }
    buttons.forEach((b, i) => b.setAttribute('aria-pressed', before[i]));
    note.textContent = problem;
  }

  // ---- the API

  function call(method, path, body, asVisitor) {
    const headers = { 'X-API-Key': key };
    if (body) headers['Content-Type'] = 'application/json';
    if (asVisitor && state.visitor_token) headers['X-Visitor-Token'] = state.visitor_token;
    return fetch(new URL(path, API).href, { method, headers, body: body ? JSON.stringify(body) : undefined,
      mode: 'cors', credentials: 'omit', cache: 'no-store' });
  }

  const refusedOrigin = () => {
    blocked = true;
    console.error(`FAQSure widget: the API at ${API.href} refuses requests from ${location.origin}: add this origin ` +
      `to the allowed origins of the publishable key ${PREFIX}.`);
    return NOT_ALLOWED;
  };

  // A refused request (not 2xx, a JSON error) → the line the visitor reads; details for the site owner in the
  // console.
  async function failure(res) {
    const body = await res.json().catch(() => ({}));
    const msg = body && typeof body.message === 'string' ? body.message : '';
    const rid = res.headers.get('X-Request-Id');
    console.warn(`FAQSure widget: HTTP ${res.status}${msg ? ': ' + msg : ''}${rid ? ` (request ${rid})` : ''}`);
    if (res.status === 429) {
      const n = parseInt(res.headers.get('Retry-After'), 10);
      if (!(n > 0)) return 'Too many questions, try again in a moment.';
      return `Too many questions, try again in ${n < 120 ? n + ' s' : Math.ceil(n / 60) + ' min'}.`;
    }
    if (res.status === 403 && /origin/i.test(msg)) return refusedOrigin();
    if (res.status === 401 || res.status === 403) {
      blocked = true;
      return 'This chat is not available: the site\'s key was not accepted.';
    }
    if (res.status === 402 || res.status >= 500) return UNAVAILABLE;
    return msg || `Something went wrong (HTTP ${res.status}). Please try again.`;
  }

  // fetch failed outright: the network, or a preflight the API refused (this origin is on no key's list). The
  // browser does not say which; a no-cors request tells whether the server answers at all.
  const unreachable = () => fetch(new URL('health', API).href, { mode: 'no-cors', credentials: 'omit',
    cache: 'no-store' }).then(refusedOrigin, () => OFFLINE);

  // ---- starting: the agent, its welcome, the stored transcript

  async function start() {
    setBusy(true);
    const wait = addPending();
    try {
      if (!state.agent) {
        const res = await call('GET', 'widget');
        if (!res.ok) return fail(wait, await failure(res));
        const a = ((await res.json()) || {}).agent || {};
        state.agent = { name: String(a.name || ''), welcome_message: String(a.welcome_message || '') };
        save();
      }
      if (!TITLE && state.agent.name) ui.title.textContent = state.agent.name;
      wait.remove();
      if (state.agent.welcome_message) {
        add(h('div', { class: 'turn bot welcome' }, h('div', { class: 'msg', text: state.agent.welcome_message })));
      }
      if (state.conversation_id) await restore();
    } catch (e) {
      const line = e instanceof TypeError ? await unreachable() : UNAVAILABLE;
      if (wait.isConnected) fail(wait, line);
      else add(errorLine(line));
    } finally {
      setBusy(false);
    }
  }

  async function restore() {
    const res = await call('GET', `chat/conversations/${encodeURIComponent(state.conversation_id)}`, null, true);
    if (res.status === 404) return forget(); // gone, or not this visitor's: start afresh
    if (!res.ok) return add(errorLine(await failure(res)));
    for (const m of ((await res.json()) || {}).messages || []) {
      if (m.role === 'user') addUser(String(m.content || ''));
      else if (m.role === 'assistant') finish(add(h('div', { class: 'turn bot' }, h('div', { class: 'msg' }))), m);
    }
    toBottom();
  }

  // ---- asking

  function onSubmit(e) {
    e.preventDefault();
    const text = ui.input.value.trim();
    if (busy || blocked || !text) return;
    ui.input.value = '';
    grow();
    ask(text);
  }

  function post(text) {
    const body = { message: text, stream: true };
    if (state.conversation_id) body.conversation_id = state.conversation_id;
    return call('POST', 'chat', body, !!state.conversation_id);
  }

  async function ask(text) {
    setBusy(true);
    addUser(text);
    const turn = addPending();
    try {
      let res = await post(text);
      if (res.status === 404 && state.conversation_id) { // the conversation is gone: start a new one
        forget();
        res = await post(text);
      }
      if (!res.ok) fail(turn, await failure(res));
      else await answer(res, turn);
    } catch (e) {
      fail(turn, e instanceof TypeError && !turn.streamed ? await unreachable()
        : 'The connection was lost before the answer was complete. Please ask again.');
    } finally {
      setBusy(false);
      if (!ui.panel.hidden && !blocked) ui.input.focus();
    }
  }

  function done(turn, d) {
    if (d.conversation_id) state.conversation_id = d.conversation_id;
    if (d.visitor_token) state.visitor_token = d.visitor_token;
    save();
    const stick = nearBottom();
    finish(turn, d);
    if (stick) toBottom();
  }

  // The answer as server-sent events: the delta pieces as they arrive, then done (the whole answer) or error.
  async function answer(res, turn) {
    if (!/event-stream/.test(res.headers.get('Content-Type') || '')) return done(turn, await res.json());
    let text = null;
    let finished = false;
    let failed = null;
    const onEvent = (name, data) => {
      let d;
      try {
        d = JSON.parse(data);
      } catch (e) {
        return;
      }
      if (!d || typeof d !== 'object') return;
      if (name === 'delta' && typeof d.content === 'string' && !finished) {
        const stick = nearBottom();
        if (!text) {
          text = document.createTextNode('');
          turn.firstChild.replaceChildren(text);
          turn.streamed = true;
        }
        text.appendData(d.content);
        if (stick) toBottom();
      } else if (name === 'done' && !finished) {
        finished = true;
        done(turn, d);
      } else if (name === 'error') {
        failed = typeof d.message === 'string' && d.status !== 503 ? d.message : UNAVAILABLE;
      }
    };
    let buf = '';
    if (res.body && res.body.getReader) {
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) break;
        buf = events(buf + decoder.decode(value, { stream: true }), onEvent);
      }
      buf += decoder.decode();
    } else {
      buf = await res.text();
    }
    events(buf + '\n\n', onEvent);
    if (!finished) fail(turn, failed || 'The answer was cut off. Please ask again.');
  }

  // Dispatches the complete events at the start of buf (blank-line separated; the event and data fields, as the
  // WHATWG rules read them) and returns the incomplete rest.
  function events(buf, onEvent) {
    const end = /\r\n\r\n|\n\n|\r\r|\r\n\n|\n\r\n/;
    let m;
    while ((m = end.exec(buf))) {
      const block = buf.slice(0, m.index);
      buf = buf.slice(m.index + m[0].length);
      let name = 'message';
      const data = [];
      for (const line of block.split(/\r\n|\r|\n/)) {
        if (!line || line[0] === ':') continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') name = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length) onEvent(name, data.join('\n'));
    }
    return buf;
  }

  // ---- go

  function mount() {
    if (document.querySelector(`faqsure-widget[data-key="${PREFIX}"]`)) return; // the line is on the page twice
    build();
    setBusy(false);
    // A conversation under way reopens as the visitor left it: without taking the focus from the page, and not
    // on a phone, where the panel covers the page.
    if (state.open && state.conversation_id && !matchMedia('(max-width: 480px)').matches) open(false);
  }

  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
