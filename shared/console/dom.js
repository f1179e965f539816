// DOM helpers the pages share: elements built without innerHTML (server text only ever becomes text nodes),
// formatting, labelled fields, busy buttons, message lines, a confirmation dialog and "Load more" lists.
import { errorText, isAbort } from './api.js';

let seq = 0;
export const uid = (prefix = 'f') => `${prefix}-${++seq}`;

// Set as DOM properties; everything else is an attribute. `on…` keys add listeners, `text` sets textContent.
const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'readOnly', 'required', 'multiple', 'open', 'selected']);

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else if (v !== false) el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

// The same for SVG: every key is an attribute (presentation attributes are allowed by the CSP; style is not).
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  return append(el, children);
}

// A thumb icon (up, or turned over for down), hidden from screen readers: its button says what it means.
export const thumb = down => svg('svg', { viewBox: '0 0 24 24', width: 18, height: 18, 'aria-hidden': 'true', class: 'icon' },
  svg('path', { fill: 'currentColor', transform: down ? 'rotate(180 12 12)' : null,
    d: 'M2 10h4v11H2zM8 21h9.6a2 2 0 0 0 2-1.6l1.4-7A2 2 0 0 0 19 10h-5.4l.8-4.3a1.8 1.8 0 0 0-3.3-1.2L8 10z' }));

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// ---- formatting --------------------------------------------------------------------------------------------
const nf = new Intl.NumberFormat();
export const num = n => (typeof n === 'number' ? nf.format(n) : n === null || n === undefined ? '—' : String(n));
export const plural = (n, word) => `${num(n)} ${word}${n === 1 ? '' : 's'}`;
export const pct = x => (typeof x === 'number' ? `${(Math.round(x * 1000) / 10).toLocaleString()}%` : '—');

export function bytes(n) {
  if (typeof n !== 'number') return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export const timeEl = (iso, none = '—') => (iso ? h('time', { datetime: iso, title: iso }, when(iso)) : none);

// "never_cited_count" → "Never cited count"
export const humanize = key => String(key).replace(/_/g, ' ').replace(/^./, c => c.toUpperCase());

// ---- page furniture ----------------------------------------------------------------------------------------
export const heading = text => h('h1', { tabindex: '-1' }, text);
export const loading = (text = 'Loading…') => h('p', { class: 'loading', role: 'status' }, text);

// A labelled field: <label> + control (+ help text tied by aria-describedby). Returns the wrapper.
export function field(label, control, help) {
  if (!control.id) control.id = uid();
  const wrap = h('div', { class: control.type === 'checkbox' || control.type === 'radio' ? 'field check' : 'field' });
  const lab = h('label', { for: control.id }, label);
  if (help) {
    const hid = uid('help');
    control.setAttribute('aria-describedby', hid);
    help = h('p', { class: 'help', id: hid }, help);
  }
  if (wrap.classList.contains('check')) append(wrap, [control, lab, help]);
  else append(wrap, [lab, control, help]);
  return wrap;
}

// Two live lines under a form or list: a polite status and an assertive alert for errors.
export function msgBox() {
  const status = h('p', { class: 'msg', role: 'status' });
  const alert = h('p', { class: 'msg error', role: 'alert' });
  const box = h('div', { class: 'msgs' }, status, alert);
  box.ok = text => { alert.textContent = ''; status.textContent = text; };
  box.error = e => {
    const text = typeof e === 'string' ? e : errorText(e);
    if (!text) return;
    status.textContent = '';
    alert.textContent = text;
  };
  box.clear = () => { status.textContent = ''; alert.textContent = ''; };
  return box;
}

// Disables the button and shows a spinner (and `label`) while fn runs.
export async function busy(button, label, fn) {
  const old = button.textContent;
  button.disabled = true;
  button.classList.add('busy');
  if (label) button.textContent = label;
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.classList.remove('busy');
    if (label) button.textContent = old;
  }
}

// busy() for an action whose failure is shown in msg (nothing is said for a request cut short by leaving).
export const act = (button, label, msg, fn) => busy(button, label, async () => {
  try { await fn(); } catch (e) { msg.error(e); }
});

// A modal yes/no question (native <dialog>: focus is trapped and Escape cancels). Resolves true on OK.
export function confirmDialog(message, okLabel = 'Delete', detail = '') {
  return new Promise(resolve => {
    const tid = uid('dlg');
    const ok = h('button', { type: 'button', class: 'danger' }, okLabel);
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': tid },
      h('h2', { id: tid }, message), detail && h('p', {}, detail), h('div', { class: 'actions' }, cancel, ok));
    ok.addEventListener('click', () => dlg.close('ok'));
    cancel.addEventListener('click', () => dlg.close('cancel'));
    dlg.addEventListener('close', () => { resolve(dlg.returnValue === 'ok'); dlg.remove(); });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

// A list that grows a page at a time. load(cursor, signal) resolves to {items, next}; show(items, first) renders
// them (first: the list starts over). Returns {el, reload}.
export function pager(signal, load, show, emptyText) {
  const state = loading();
  const msg = msgBox();
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  let cursor = null;
  let generation = 0;  // a reload makes answers to earlier requests stale
  async function page(first) {
    const mine = first ? ++generation : generation;
    try {
      const r = await load(first ? null : cursor, signal);
      if (mine !== generation) return;
      show(r.items, first);
      cursor = r.next || null;
      more.hidden = !cursor;
      state.textContent = first && !r.items.length ? emptyText : '';
      state.classList.remove('loading');
      msg.clear();
    } catch (e) {
      if (isAbort(e) || mine !== generation) return;
      state.textContent = '';
      state.classList.remove('loading');
      msg.error(e);
    }
  }
  more.addEventListener('click', () => busy(more, 'Loading…', () => page(false)));
  return {
    el: h('div', { class: 'pager' }, state, msg, more),
    reload() {
      state.textContent = 'Loading…';
      state.classList.add('loading');
      more.hidden = true;
      return page(true);
    },
  };
}

// A table whose rows stack into labelled blocks on a narrow screen (each cell carries its column's name).
export function table(caption, columns) {
  const body = h('tbody');
  const el = h('div', { class: 'table-wrap' }, h('table', { class: 'stack' },
    caption && h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, columns.map(c => h('th', { scope: 'col' }, c)))), body));
  const row = cells => h('tr', {}, cells.map((c, i) =>
    h('td', { 'data-label': columns[i] }, c)));
  return { el, body, row };
}

export function badge(text, kind) {
  return h('span', { class: `badge ${kind || text}` }, text);
}
