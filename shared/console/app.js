// The console's shell: hash routes (#/keys, #/playground?q=…), the nav bar, signing in and out. Each page module
// exports render(ctx) and may return a cleanup function; ctx.signal is aborted when the page is left, which
// stops its requests, polling and streams.
import { api, session, onUnauthorized, errorText } from './api.js';
import { h, heading, field, msgBox, busy } from './dom.js';
import * as keys from './keys.js';
import * as documents from './documents.js';
import * as playground from './playground.js';
import * as conversations from './conversations.js';
import * as analytics from './analytics.js';
import * as agents from './agents.js';

const PAGES = { signin: { render: signin }, analytics, playground, documents, conversations, agents, keys };
const HOME = '#/analytics';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let leave = null;        // the current page's cleanup
let flash = '';          // a message for the sign-in page (why you were signed out)
let afterSignIn = HOME;  // where sign-in goes next

function parse() {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const parts = path.split('/').filter(Boolean).map(p => { try { return decodeURIComponent(p); } catch { return p; } });
  return { name: parts[0] || '', rest: parts.slice(1), params: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

function route() {
  if (leave) { leave(); leave = null; }
  const r = parse();
  const signedIn = !!session.key;
  nav.hidden = !signedIn;
  if (!signedIn && r.name !== 'signin') {
    if (r.name && PAGES[r.name]) afterSignIn = location.hash;
    location.replace('#/signin');
    return;
  }
  if (signedIn && (r.name === 'signin' || !PAGES[r.name])) { location.replace(HOME); return; }
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === `#/${r.name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const controller = new AbortController();
  main.replaceChildren();
  main.dataset.page = r.name;
  const ctx = {
    main, rest: r.rest, params: r.params, signal: controller.signal,
    title: t => { document.title = `${t} · FAQSure console`; },
  };
  const cleanup = PAGES[r.name].render(ctx);
  leave = () => { controller.abort(); if (typeof cleanup === 'function') cleanup(); };
  // After a navigation, focus the new page's heading so keyboard and screen reader users start there (the
  // sign-in page focuses its key field itself).
  const h1 = main.querySelector('h1');
  if (routed && h1 && r.name !== 'signin') h1.focus();
  routed = true;
}
let routed = false;

function signOut(message) {
  session.clear();
  flash = message || '';
  afterSignIn = HOME;
  if (location.hash === '#/signin') route();
  else location.hash = '#/signin';
}

// Any 401 of the session's key: the key was revoked or expired while the console was open.
onUnauthorized(err => signOut(`You were signed out: ${err.message}`));

document.getElementById('signout').addEventListener('click', () => signOut('You signed out.'));
document.querySelector('.skip').addEventListener('click', e => {
  e.preventDefault();  // the hash is the router's: focus the content instead of following #main
  (main.querySelector('h1') || main).focus();
});
window.addEventListener('hashchange', route);
route();

// ---- sign in -------------------------------------------------------------------------------------------------
function signin(ctx) {
  ctx.title('Sign in');
  const input = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'faqsure_sk_…', class: 'mono' });
  const msg = msgBox();
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card narrow', novalidate: true },
    field('Admin API key', input, 'The key stays in this browser tab only (sessionStorage) and is forgotten when you close the tab or sign out.'),
    h('div', { class: 'actions' }, button), msg);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) { msg.error('Paste an admin API key (faqsure_sk_…).'); input.focus(); return; }
    if (key.startsWith('faqsure_pk_')) { msg.error('That is a publishable key, made for web pages. The console needs an admin secret key (faqsure_sk_…).'); return; }
    if (!key.startsWith('faqsure_sk_')) { msg.error('That does not look like a FAQSure key: a secret key starts with faqsure_sk_.'); return; }
    msg.clear();
    await busy(button, 'Checking…', async () => {
      try {
        await api('keys', { query: { limit: 1 }, key });
        session.set(key);
        input.value = '';
        flash = '';
        const next = afterSignIn;
        afterSignIn = HOME;
        location.hash = next;
      } catch (err) {
        if (err.status === 403) msg.error('This key is not an admin key. The console needs a key with the admin scope (faqsurectl key create --scope admin).');
        else if (err.status === 401) msg.error(`This key was not accepted: ${err.message}`);
        else msg.error(errorText(err));
      }
    });
  });
  ctx.main.append(heading('Sign in to the FAQSure console'),
    h('p', {}, 'Manage API keys, documents and agents, try questions, and read how your knowledge base answers.'), form);
  if (flash) msg.ok(flash);
  input.focus();
}
