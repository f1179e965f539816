// Conversations: the list (newest first, filtered to those with fallbacks or down-voted answers), and one
// conversation's messages with each answer's sources, confidence, fallback flag and feedback (#/conversations/ID).
import { api, isAbort } from './api.js';
import { h, heading, field, msgBox, pager, table, badge, num, timeEl, loading } from './dom.js';
import { answerMeta } from './answer.js';

export function render(ctx) {
  if (ctx.rest[0]) return one(ctx, ctx.rest[0]);
  ctx.title('Conversations');
  const agentNames = new Map();
  const fallbacks = h('input', { type: 'checkbox', id: 'f-fallbacks', checked: ctx.params.get('fallbacks') === 'true' });
  const downvoted = h('input', { type: 'checkbox', id: 'f-downvoted', checked: ctx.params.get('downvoted') === 'true' });
  const t = table('Conversations', ['Conversation', 'Messages', 'Agent', 'Started', 'Last answer']);
  const agentCells = [];
  const list = pager(ctx.signal,
    async (cursor, signal) => {
      const r = await api('chat/conversations', { signal,
        query: { limit: 20, cursor, fallbacks: fallbacks.checked && 'true', downvoted: downvoted.checked && 'true' } });
      return { items: r.conversations, next: r.next_cursor };
    },
    (items, first) => {
      if (first) { t.body.replaceChildren(); agentCells.length = 0; }
      t.el.hidden = first && !items.length;
      for (const c of items) {
        const agent = h('span', { 'data-agent': c.agent_id || '' }, c.agent_id ? agentNames.get(c.agent_id) || '…' : '(deleted agent)');
        agentCells.push(agent);
        t.body.append(t.row([h('div', {}, h('a', { href: `#/conversations/${encodeURIComponent(c.id)}` }, c.title || '(untitled)'),
          c.visitor ? [' ', badge('widget visitor', 'visitor')] : ''),
          num(c.message_count), agent, timeEl(c.created_at), timeEl(c.updated_at)]));
      }
      nameAgents();
    }, 'No conversations match.');
  // Agent ids become names once the agents are known.
  function nameAgents() {
    for (const cell of agentCells) {
      const id = cell.dataset.agent;
      if (id && agentNames.has(id)) cell.textContent = agentNames.get(id);
    }
  }
  const filterChanged = () => {
    // Keep the filter in the address so a reload or a shared link shows the same list.
    const q = new URLSearchParams();
    if (fallbacks.checked) q.set('fallbacks', 'true');
    if (downvoted.checked) q.set('downvoted', 'true');
    history.replaceState(null, '', `#/conversations${q.toString() ? `?${q}` : ''}`);
    list.reload();
  };
  fallbacks.addEventListener('change', filterChanged);
  downvoted.addEventListener('change', filterChanged);

  ctx.main.append(heading('Conversations'),
    h('fieldset', { class: 'filters' }, h('legend', {}, 'Show only conversations'),
      field('with fallbacks', fallbacks), field('with down-voted answers', downvoted),
      h('p', { class: 'help' }, 'With both ticked, conversations of either kind are shown.')),
    t.el, list.el);
  list.reload();
  api('agents', { query: { limit: 100 }, signal: ctx.signal }).then(r => {
    for (const a of r.agents || []) agentNames.set(a.id, a.name);
    for (const cell of agentCells) if (cell.dataset.agent && !agentNames.has(cell.dataset.agent)) cell.textContent = 'another agent';
    nameAgents();
  }).catch(() => {});
}

function one(ctx, id) {
  ctx.title('Conversation');
  const h1 = heading('Conversation');
  const info = h('p', { class: 'muted' });
  const msg = msgBox();
  const list = h('ol', { class: 'transcript' });
  const wait = loading();
  ctx.main.append(h('p', {}, h('a', { href: '#/conversations' }, '← All conversations')), h1, info, wait, msg, list);
  api(`chat/conversations/${encodeURIComponent(id)}`, { signal: ctx.signal }).then(c => {
    wait.remove();
    h1.textContent = c.title || 'Conversation';
    ctx.title(c.title || 'Conversation');
    info.replaceChildren(`${num(c.message_count)} messages · started `, timeEl(c.created_at), ' · last answer ', timeEl(c.updated_at));
    for (const m of c.messages || []) {
      if (m.role === 'user') {
        list.append(h('li', { class: 'turn user' }, h('span', { class: 'visually-hidden' }, 'Question: '), m.content,
          h('span', { class: 'when' }, timeEl(m.created_at))));
      } else {
        list.append(h('li', { class: `turn assistant${m.fallback_triggered ? ' fallback' : ''}` },
          h('div', { class: 'answer-text' }, m.content), answerMeta(m)));
      }
    }
  }).catch(err => {
    if (isAbort(err)) return;
    wait.remove();
    msg.error(err.status === 404 ? 'There is no such conversation in this account.' : err);
  });
}
