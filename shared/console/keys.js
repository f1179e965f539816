// The API keys page ("Settings → API Keys"): create a key and show its secret once (held only in this page's
// DOM, gone when the page is left), list the account's keys, edit a key's name, limits, expiry and origins, and
// revoke a key.
import { api, session } from './api.js';
import { h, heading, field, msgBox, act, pager, table, badge, num, timeEl, confirmDialog, uid } from './dom.js';

const ORIGIN_RE = /^https?:\/\/[^/\s?#*]+$/;

// The text of an origins box as a list (one origin a line; a trailing slash is dropped). Throws on a bad line.
function origins(text) {
  const list = text.split('\n').map(s => s.trim().replace(/\/$/, '')).filter(Boolean);
  const bad = list.find(o => !ORIGIN_RE.test(o));
  if (bad) throw new Error(`"${bad}" is not an origin: write scheme and host (and port), e.g. https://www.example.com, with no path.`);
  if (!list.length) throw new Error('A publishable key needs at least one allowed origin.');
  return list;
}

// The controls a key has in both the create form and the edit dialog, filled from k (or the defaults), with
// `read()` giving the body fields that differ from k (all of them for a new key).
function keyFields(k, agents) {
  const oldExpiry = k.expires_at ? k.expires_at.slice(0, 10) : '';
  const oldOrigins = (k.allowed_origins || []).join('\n');
  const c = {
    name: h('input', { required: true, maxlength: 100, autocomplete: 'off', value: k.name || '' }),
    perMinute: h('input', { type: 'number', min: 1, max: 1000000, required: true, value: String(k.rate_limit_per_minute || 60) }),
    perHour: h('input', { type: 'number', min: 1, max: 100000000, required: true, value: String(k.rate_limit_per_hour || 1000) }),
    // A new key's expiry must be in the future (an existing key's date may be past: it must stay valid to save).
    expiry: h('input', { type: 'date', value: oldExpiry, min: k.id ? null : new Date(Date.now() + 86400000).toISOString().slice(0, 10) }),
    origins: h('textarea', { rows: 3, spellcheck: 'false', placeholder: 'https://www.example.com', value: oldOrigins }),
    agent: h('select', {}),
  };
  c.setAgents = list => c.agent.replaceChildren(h('option', { value: '' }, "The account's default agent"),
    list.map(a => h('option', { value: a.id, selected: a.id === k.agent_id }, a.name)));
  c.setAgents(agents);
  c.limits = [field('Name', c.name, k.id ? null : 'What the key is for, e.g. "Production" or "Website widget".'),
    h('div', { class: 'grid2' }, field('Rate limit per minute', c.perMinute), field('Rate limit per hour', c.perHour)),
    field(k.id ? 'Expiry date' : 'Expiry date (optional)', c.expiry, 'The key stops working at 00:00 UTC on this day. Empty: never.')];
  c.web = [field('Allowed origins (one per line)', c.origins, 'The web pages that may use this key: scheme, host and port, no path.'),
    field('Agent that answers on this key', c.agent)];
  c.read = publishable => {
    const body = {};
    const put = (key, value, old) => { if (value !== old) body[key] = value; };
    put('name', c.name.value.trim(), k.name);
    put('rate_limit_per_minute', Number(c.perMinute.value), k.rate_limit_per_minute);
    put('rate_limit_per_hour', Number(c.perHour.value), k.rate_limit_per_hour);
    if (c.expiry.value !== oldExpiry) body.expires_at = c.expiry.value || null;
    if (publishable) {
      if (!k.id || c.origins.value.trim() !== oldOrigins) body.allowed_origins = origins(c.origins.value);
      put('agent_id', c.agent.value || null, k.id ? k.agent_id || null : undefined);
    }
    return body;
  };
  return c;
}

export function render(ctx) {
  ctx.title('API keys');
  let agents = [];
  const rows = new Map();  // key id → its table row

  // ---- create ----
  const c = keyFields({}, []);
  const secretRadio = h('input', { type: 'radio', name: 'key-type', value: 'secret', checked: true });
  const pubRadio = h('input', { type: 'radio', name: 'key-type', value: 'publishable' });
  const scope = h('select', {}, h('option', { value: 'default' }, 'Default: documents, search, chat, agents, analytics'),
    h('option', { value: 'admin' }, 'Admin: all of that, and managing API keys'));
  const secretOpts = h('div', { class: 'suboptions' }, field('Scope', scope));
  const pubOpts = h('div', { class: 'suboptions', hidden: true }, c.web);
  const typeChanged = () => { pubOpts.hidden = !pubRadio.checked; secretOpts.hidden = pubRadio.checked; };
  secretRadio.addEventListener('change', typeChanged);
  pubRadio.addEventListener('change', typeChanged);
  const createMsg = msgBox();
  const createBtn = h('button', { type: 'submit', class: 'primary' }, 'Create API key');
  const secretSlot = h('div');
  const form = h('form', { class: 'card', 'aria-labelledby': 'create-key-h' },
    h('h2', { id: 'create-key-h' }, 'Create API key'), c.limits,
    h('fieldset', {}, h('legend', {}, 'Type'),
      field('Secret — for your servers; never put it in a web page', secretRadio),
      field('Publishable — for a chat widget on your web pages (chat only, from the origins you list)', pubRadio)),
    secretOpts, pubOpts, h('div', { class: 'actions' }, createBtn), createMsg);

  form.addEventListener('submit', async e => {
    e.preventDefault();
    createMsg.clear();
    let body;
    try { body = c.read(pubRadio.checked); } catch (err) { createMsg.error(err.message); c.origins.focus(); return; }
    if (!body.name) { createMsg.error('Give the key a name.'); c.name.focus(); return; }
    if (pubRadio.checked) body.type = 'publishable';
    else if (scope.value === 'admin') body.scope = 'admin';
    await act(createBtn, 'Creating…', createMsg, async () => {
      const k = await api('keys', { method: 'POST', body, signal: ctx.signal });
      secretSlot.replaceChildren(secretPanel(k));
      secretSlot.querySelector('.secret-panel button').focus();
      c.name.value = '';
      c.expiry.value = '';
      list.reload();
    });
  });

  // A Copy button for the text of `out`; `said` reports what happened.
  function copyButton(out, said) {
    const copy = h('button', { type: 'button', class: 'primary' }, 'Copy');
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(out.textContent);
        said.textContent = 'Copied to the clipboard.';
      } catch {
        // No clipboard access (an http:// page, or refused): select the text so the person can copy it.
        const range = document.createRange();
        range.selectNodeContents(out);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        out.focus();
        said.textContent = 'Selected — press Ctrl+C (⌘C on a Mac) to copy it.';
      }
    });
    return copy;
  }

  // The new key's secret, shown this once. It lives only in this panel: nothing stores it. A publishable key
  // also gets the one line that puts the chat widget on a page of its origins.
  function secretPanel(k) {
    const out = h('code', { class: 'secret', tabindex: '0', 'aria-label': `Secret of the new key ${k.name}` }, k.key);
    const copied = h('p', { class: 'msg', role: 'status' });
    const done = h('button', { type: 'button' }, 'Done');
    const panel = h('section', { class: 'secret-panel', 'aria-labelledby': 'secret-h' },
      h('h2', { id: 'secret-h' }, `New key “${k.name}”`),
      h('p', { class: 'warning' }, 'Copy this key now. It is only shown once.'),
      h('div', { class: 'copy-row' }, out, copyButton(out, copied)), copied);
    let snippet = null;
    if (k.type === 'publishable') {
      const src = new URL('../widget.js', location.href).href;
      snippet = h('code', { class: 'secret snippet', tabindex: '0', 'aria-label': 'The chat widget line' },
        `<script src="${src}" data-key="${k.key}" async></script>`);
      const said = h('p', { class: 'msg', role: 'status' });
      panel.append(h('h3', {}, 'Chat widget'),
        h('p', {}, `Put this line on any page of ${(k.allowed_origins || []).join(', ')} to add the chat bubble:`),
        h('div', { class: 'copy-row' }, snippet, copyButton(snippet, said)), said);
    }
    panel.append(h('div', { class: 'actions' }, done));
    done.addEventListener('click', () => {
      out.textContent = '';
      if (snippet) snippet.textContent = '';
      panel.remove();
      c.name.focus();
    });
    return panel;
  }

  // ---- list ----
  const t = table('API keys of this account', ['Name', 'Prefix', 'Type', 'Limits', 'Expires', 'Last used', 'Status', 'Actions']);
  const listMsg = msgBox();
  function keyRow(k) {
    const expired = k.expires_at && new Date(k.expires_at) <= new Date();
    const status = k.revoked ? h('span', {}, badge('revoked'), ' ', timeEl(k.revoked_at, ''))
      : badge(expired ? 'expired' : 'active');
    const type = k.type === 'publishable'
      ? h('div', {}, 'Publishable', h('ul', { class: 'plain small' }, (k.allowed_origins || []).map(o => h('li', {}, o))))
      : `Secret${k.scope === 'admin' ? ' · admin' : ''}`;
    const actions = h('div', { class: 'row-actions' });
    if (!k.revoked) {
      const edit = h('button', { type: 'button', 'aria-label': `Edit ${k.name}` }, 'Edit');
      const revoke = h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${k.name}` }, 'Revoke');
      edit.addEventListener('click', () => editKey(k, agents, updated => {
        replaceRow(updated);
        listMsg.ok(`Saved “${updated.name}”.`);
      }));
      revoke.addEventListener('click', () => revokeKey(k, revoke));
      actions.append(edit, revoke);
    }
    const tr = t.row([h('strong', {}, k.name), h('code', {}, k.prefix), type,
      `${num(k.rate_limit_per_minute)}/min · ${num(k.rate_limit_per_hour)}/h`,
      timeEl(k.expires_at, 'Never'), timeEl(k.last_used_at, 'Never'), status, actions]);
    rows.set(k.id, tr);
    return tr;
  }
  function replaceRow(k) {
    const old = rows.get(k.id);
    if (old) old.replaceWith(keyRow(k));
  }

  async function revokeKey(k, button) {
    const mine = (session.key || '').startsWith(k.prefix);
    if (!await confirmDialog(`Revoke the key “${k.name}”?`, 'Revoke key',
      mine ? 'This is the key you are signed in with: you will be signed out.'
        : 'Anything using it gets 401 from its next request. This cannot be undone.')) return;
    await act(button, 'Revoking…', listMsg, async () => {
      replaceRow(await api(`keys/${encodeURIComponent(k.id)}`, { method: 'DELETE', signal: ctx.signal }));
      listMsg.ok(`Revoked “${k.name}”.`);
    });
  }

  const list = pager(ctx.signal,
    async (cursor, signal) => {
      const r = await api('keys', { query: { limit: 20, cursor }, signal });
      return { items: r.keys, next: r.next_cursor };
    },
    (items, first) => {
      if (first) { t.body.replaceChildren(); rows.clear(); }
      t.el.hidden = first && !items.length;
      for (const k of items) t.body.append(keyRow(k));
    }, 'No keys yet.');

  ctx.main.append(heading('API keys'),
    h('p', {}, 'Keys let your applications call the FAQSure API. A key\'s secret is shown only once, when it is created.'),
    form, secretSlot,
    h('section', { 'aria-labelledby': 'keys-list-h' }, h('h2', { id: 'keys-list-h' }, 'Your keys'), listMsg, t.el, list.el));
  list.reload();

  // The agents, for a publishable key's "who answers" choice (only the default agent when this fails).
  api('agents', { query: { limit: 100 }, signal: ctx.signal })
    .then(r => { agents = r.agents || []; c.setAgents(agents); }).catch(() => {});
}

// The edit dialog: sends only what changed (PATCH /keys/{id}).
function editKey(k, agents, saved) {
  const tid = uid('dlg');
  const pub = k.type === 'publishable';
  const c = keyFields(k, agents);
  const msg = msgBox();
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const form = h('form', {}, h('h2', { id: tid }, `Edit “${k.name}”`), c.limits, pub && c.web,
    msg, h('div', { class: 'actions' }, cancel, save));
  const dlg = h('dialog', { class: 'dialog wide', 'aria-labelledby': tid }, form);
  cancel.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => dlg.remove());
  form.addEventListener('submit', async e => {
    e.preventDefault();
    let body;
    try { body = c.read(pub); } catch (err) { msg.error(err.message); return; }
    if (!Object.keys(body).length) { dlg.close(); return; }
    await act(save, 'Saving…', msg, async () => {
      const updated = await api(`keys/${encodeURIComponent(k.id)}`, { method: 'PATCH', body });
      dlg.close();
      saved(updated);
    });
  });
  document.body.append(dlg);
  dlg.showModal();
  c.name.focus();
}
