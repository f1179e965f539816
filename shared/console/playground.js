// The playground: ask an agent questions in one conversation and watch each answer stream in (server-sent
// events), with its sources, confidence, fallback label and feedback buttons. #/playground?q=… prefills a question.
import { api, chatStream, isAbort, errorText } from './api.js';
import { h, heading, field, msgBox, busy } from './dom.js';
import { answerMeta } from './answer.js';

export function render(ctx) {
  ctx.title('Playground');
  let conversationId = null;
  let agents = [];

  const agentSel = h('select', { disabled: true }, h('option', { value: '' }, 'Loading agents…'));
  const question = h('textarea', { rows: 3, maxlength: 4000, required: true, id: 'question' });
  question.value = ctx.params.get('q') || '';
  const ask = h('button', { type: 'submit', class: 'primary' }, 'Ask');
  const fresh = h('button', { type: 'button' }, 'New conversation');
  const transcript = h('ol', { class: 'transcript', 'aria-label': 'Conversation' });
  const convInfo = h('p', { class: 'muted small', role: 'status' });
  const msg = msgBox();
  const welcome = h('p', { class: 'welcome', hidden: true });

  const form = h('form', { class: 'card ask' },
    field('Your question', question, 'Enter sends; Shift+Enter starts a new line. Follow-up questions continue the conversation.'),
    h('div', { class: 'actions' }, ask), msg);

  question.addEventListener('keydown', e => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  agentSel.addEventListener('change', showWelcome);
  fresh.addEventListener('click', () => {
    conversationId = null;
    transcript.replaceChildren();
    convInfo.textContent = 'New conversation: the next question starts it.';
    question.focus();
  });

  function showWelcome() {
    const a = agents.find(x => x.id === agentSel.value) || agents.find(x => x.is_default);
    welcome.hidden = !(a && a.welcome_message);
    welcome.textContent = a && a.welcome_message ? `Welcome message: “${a.welcome_message}”` : '';
  }

  form.addEventListener('submit', async e => {
    e.preventDefault();
    if (ask.disabled) return;  // one question at a time (Enter while an answer streams)
    const text = question.value.trim();
    if (!text) { msg.error('Type a question first.'); question.focus(); return; }
    msg.clear();
    const answerText = h('div', { class: 'answer-text', 'aria-live': 'polite', 'aria-busy': 'true' });
    const state = h('p', { class: 'loading small', role: 'status' }, 'Answering…');
    const item = h('li', { class: 'turn assistant', 'data-state': 'streaming' }, answerText, state);
    transcript.append(h('li', { class: 'turn user' }, h('span', { class: 'visually-hidden' }, 'You asked: '), text), item);
    question.value = '';
    let deltas = 0;
    await busy(ask, 'Answering…', async () => {
      try {
        const done = await chatStream({ message: text, conversation_id: conversationId, agent_id: agentSel.value || null }, {
          signal: ctx.signal,
          onDelta: piece => {
            answerText.append(piece);  // a text node per piece: the answer grows as it arrives
            answerText.dataset.deltas = String(++deltas);
          },
        });
        answerText.textContent = done.message;  // the complete answer, exactly as stored
        answerText.setAttribute('aria-busy', 'false');
        state.remove();
        if (done.fallback_triggered) item.classList.add('fallback');
        item.append(answerMeta(done));
        item.dataset.state = 'done';
        if (item.isConnected) {  // not when "New conversation" was pressed while it streamed
          conversationId = done.conversation_id;
          convInfo.textContent = 'Follow-up questions continue this conversation.';
        }
      } catch (err) {
        if (isAbort(err)) return;
        answerText.setAttribute('aria-busy', 'false');
        state.remove();
        item.dataset.state = 'error';
        item.append(h('p', { class: 'msg error', role: 'alert' }, `No answer: ${errorText(err)}`));
        if (!deltas) question.value = text;  // nothing answered: give the question back to try again
      }
    });
    item.scrollIntoView({ block: 'nearest' });
    question.focus();
  });

  ctx.main.append(heading('Playground'),
    h('p', {}, 'Ask what your visitors would ask and see how your knowledge base answers.'),
    h('div', { class: 'toolbar' }, field('Agent', agentSel), fresh),
    h('section', { 'aria-labelledby': 'conv-h' }, h('h2', { id: 'conv-h', class: 'visually-hidden' }, 'Conversation'),
      welcome, transcript, convInfo),
    form);
  question.focus();

  api('agents', { query: { limit: 100 }, signal: ctx.signal }).then(r => {
    agents = r.agents || [];
    agentSel.replaceChildren(...agents.map(a => h('option', { value: a.id, selected: a.is_default },
      a.is_default ? `${a.name} (default)` : a.name)));
    if (!agents.length) agentSel.append(h('option', { value: '' }, "The account's default agent"));
    agentSel.disabled = false;
    showWelcome();
  }).catch(err => {
    if (isAbort(err)) return;
    agentSel.replaceChildren(h('option', { value: '' }, "The account's default agent"));
    agentSel.disabled = false;
    msg.error(`Could not load the agents: ${errorText(err)}`);
  });
}
