// The agents page: the account's agents (personas with their prompts, messages and retrieval settings); create,
// edit (PATCH sends only the fields that changed), make default, delete (never the default).
import { api } from './api.js';
import { h, heading, field, msgBox, act, pager, badge, timeEl, confirmDialog } from './dom.js';

// The server's defaults (API.md), which a new agent's form starts from.
const DEFAULTS = {
  name: '', is_default: false,
  system_prompt: "You are a helpful support assistant. Answer the user's question using only the numbered context passages from the knowledge base. Be concise. If the context does not contain the answer, say that you do not know.",
  fallback_message: "I'm sorry, I couldn't find an answer to that in our knowledge base. Please rephrase your question or contact our support team.",
  welcome_message: 'Hi! Ask me anything about our documentation.',
  top_k: 5, similarity_threshold: 0.7, use_hybrid: true, answerer: null,
};

// The form's fields: key, label, control kind, limits, help. (The OpenAI answerer's model, temperature, length and
// history settings keep their values: PATCH sends only what the form changed.)
const FIELDS = [
  { k: 'name', label: 'Name', kind: 'text', max: 100, required: true },
  { k: 'system_prompt', label: 'System prompt', kind: 'area', max: 8000, help: 'The instructions the answerer gets (used by the OpenAI-compatible answerer).' },
  { k: 'fallback_message', label: 'Fallback message', kind: 'area', max: 8000, required: true, help: 'The answer when the knowledge base has nothing relevant.' },
  { k: 'welcome_message', label: 'Welcome message', kind: 'area', max: 1000, rows: 2, help: 'The first line a chat widget shows.' },
  { k: 'similarity_threshold', label: 'Similarity threshold (0–1)', kind: 'num', min: 0, max: 1, step: 0.01, help: 'Answers (built-in) or passages (OpenAI) scoring lower fall back.' },
  { k: 'top_k', label: 'Passages retrieved (top_k, 1–50)', kind: 'int', min: 1, max: 50 },
  { k: 'use_hybrid', label: 'Hybrid search: rank by meaning and keywords', kind: 'check' },
  { k: 'answerer', label: 'Answerer', kind: 'select', options: [['', "Server default"], ['builtin', 'Built-in (extractive)'], ['openai', 'OpenAI-compatible']] },
  { k: 'is_default', label: 'Default agent: answers chats that name no agent', kind: 'check' },
];

function control(f, value) {
  if (f.kind === 'area') return h('textarea', { rows: f.rows || 4, maxlength: f.max, required: f.required, value: value ?? '' });
  if (f.kind === 'check') return h('input', { type: 'checkbox', checked: !!value });
  if (f.kind === 'select') return h('select', {}, f.options.map(([v, l]) => h('option', { value: v, selected: v === (value ?? '') }, l)));
  if (f.kind === 'text') return h('input', { maxlength: f.max, required: f.required, value: value ?? '', autocomplete: 'off' });
  return h('input', { type: 'number', min: f.min, max: f.max, step: f.step || 1, required: true, value: String(value ?? ''), inputmode: f.kind === 'int' ? 'numeric' : 'decimal' });
}

function read(f, el) {
  if (f.kind === 'check') return el.checked;
  if (f.kind === 'int') return parseInt(el.value, 10);
  if (f.kind === 'num') return parseFloat(el.value);
  if (f.kind === 'select') return el.value || null;
  return f.k === 'name' ? el.value.trim() : el.value;
}

export function render(ctx) {
  ctx.title('Agents');
  const msg = msgBox();
  const editor = h('div');
  const cards = h('ul', { class: 'agents' });
  const create = h('button', { type: 'button', class: 'primary' }, 'New agent');
  create.addEventListener('click', () => openForm(null));

  // The create/edit form. agent null: a new one, starting from the defaults.
  function openForm(agent) {
    const start = { ...DEFAULTS, ...(agent || {}) };
    const controls = new Map(FIELDS.map(f => [f.k, control(f, start[f.k])]));
    const initial = new Map(FIELDS.map(f => [f.k, read(f, controls.get(f.k))]));
    const isDefault = agent && agent.is_default;
    if (isDefault) controls.get('is_default').disabled = true;
    const formMsg = msgBox();
    const save = h('button', { type: 'submit', class: 'primary' }, agent ? 'Save changes' : 'Create agent');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const fieldFor = f => field(f.label, controls.get(f.k),
      f.k === 'is_default' && isDefault ? 'This is the default. To change that, make another agent the default.' : f.help);
    const title = agent ? `Edit “${agent.name}”` : 'New agent';
    const form = h('form', { class: 'card', 'aria-labelledby': 'agent-form-h' },
      h('h2', { id: 'agent-form-h' }, title),
      FIELDS.map(fieldFor),
      h('div', { class: 'actions' }, cancel, save), formMsg);
    cancel.addEventListener('click', () => { editor.replaceChildren(); create.focus(); });
    form.addEventListener('submit', async e => {
      e.preventDefault();
      formMsg.clear();
      // Only what changed is sent: the server refuses unknown fields, so an untouched field it may not know
      // yet (welcome_message) never breaks a save.
      const body = {};
      for (const f of FIELDS) {
        const v = read(f, controls.get(f.k));
        if (v !== initial.get(f.k) || (!agent && f.k === 'name')) body[f.k] = v;
      }
      if (!Object.keys(body).length) { formMsg.ok('Nothing changed.'); return; }
      await act(save, 'Saving…', formMsg, async () => {
        const saved = agent
          ? await api(`agents/${encodeURIComponent(agent.id)}`, { method: 'PATCH', body, signal: ctx.signal })
          : await api('agents', { method: 'POST', body, signal: ctx.signal });
        editor.replaceChildren();
        msg.ok(agent ? `Saved “${saved.name}”.` : `Created “${saved.name}”.`);
        list.reload();
      });
    });
    editor.replaceChildren(form);
    form.scrollIntoView({ block: 'start' });
    controls.get('name').focus();
  }

  function agentCard(a) {
    const edit = h('button', { type: 'button', 'aria-label': `Edit ${a.name}` }, 'Edit');
    const del = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${a.name}`, disabled: a.is_default }, 'Delete');
    const makeDefault = !a.is_default && h('button', { type: 'button', 'aria-label': `Make ${a.name} the default agent` }, 'Make default');
    edit.addEventListener('click', () => openForm(a));
    del.addEventListener('click', async () => {
      if (!await confirmDialog(`Delete the agent “${a.name}”?`, 'Delete agent',
        'Conversations it answered keep their history. Publishable keys that name it need another agent.')) return;
      await act(del, 'Deleting…', msg, async () => {
        await api(`agents/${encodeURIComponent(a.id)}`, { method: 'DELETE', signal: ctx.signal });
        msg.ok(`Deleted “${a.name}”.`);
        list.reload();
      });
    });
    if (makeDefault) {
      makeDefault.addEventListener('click', () => act(makeDefault, 'Saving…', msg, async () => {
        await api(`agents/${encodeURIComponent(a.id)}`, { method: 'PATCH', body: { is_default: true }, signal: ctx.signal });
        msg.ok(`“${a.name}” is now the default agent.`);
        list.reload();
      }));
    }
    const answerer = a.answerer === 'openai' ? 'OpenAI-compatible' : a.answerer === 'builtin' ? 'Built-in' : 'Server default';
    return h('li', { class: 'agent card', 'data-id': a.id },
      h('h3', {}, a.name, ' ', a.is_default && badge('default', 'ready')),
      h('dl', { class: 'pairs' },
        h('dt', {}, 'Answerer'), h('dd', {}, answerer),
        h('dt', {}, 'Threshold'), h('dd', {}, String(a.similarity_threshold)),
        h('dt', {}, 'Passages (top_k)'), h('dd', {}, String(a.top_k)),
        h('dt', {}, 'Hybrid search'), h('dd', {}, a.use_hybrid ? 'on' : 'off'),
        h('dt', {}, 'Updated'), h('dd', {}, timeEl(a.updated_at))),
      h('p', { class: 'small' }, h('strong', {}, 'Fallback: '), a.fallback_message),
      a.welcome_message ? h('p', { class: 'small' }, h('strong', {}, 'Welcome: '), a.welcome_message) : '',
      h('div', { class: 'row-actions' }, edit, makeDefault, del),
      a.is_default && h('p', { class: 'help' }, 'The default agent cannot be deleted.'));
  }

  const list = pager(ctx.signal,
    async (cursor, signal) => {
      const r = await api('agents', { query: { limit: 50, cursor }, signal });
      return { items: r.agents, next: r.next_cursor };
    },
    (items, first) => {
      if (first) cards.replaceChildren();
      for (const a of items) cards.append(agentCard(a));
    }, 'No agents yet.');

  ctx.main.append(heading('Agents'),
    h('p', {}, 'An agent is a persona your chats answer with: its prompts, its fallback and welcome messages, and how it searches.'),
    h('div', { class: 'actions start' }, create), msg, editor, cards, list.el);
  list.reload();
}

