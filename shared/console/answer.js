// How an answer is shown (the playground and a stored conversation alike): the fallback label, the confidence,
// the sources with their passages, the cost, and thumbs up/down feedback.
import { api } from './api.js';
import { h, msgBox, act, pct, num, field, thumb } from './dom.js';

export const FALLBACK_LABEL = 'No answer found in your documents — fallback message shown';

export function answerMeta(a) {
  const out = h('div', { class: 'answer-meta' });
  if (a.fallback_triggered) {
    out.append(h('p', { class: 'fallback-label' }, h('strong', {}, 'Fallback. '), FALLBACK_LABEL,
      a.confidence ? ` (the best candidate had confidence ${pct(a.confidence)})` : ''));
  }
  if (typeof a.confidence === 'number') {
    const meter = h('meter', { min: 0, max: 1, low: 0.5, high: 0.7, optimum: 1, value: a.confidence });
    out.append(h('div', { class: 'confidence' }, field(`Confidence ${pct(a.confidence)}`, meter)));
  }
  const sources = a.sources || [];
  if (sources.length) {
    out.append(h('details', { class: 'sources' },
      h('summary', {}, `Sources (${sources.length})`),
      h('ol', {}, sources.map(s => {
        const where = s.metadata && (s.metadata.section || (s.metadata.page ? `page ${s.metadata.page}` : ''));
        return h('li', {}, h('details', { class: 'source' },
          h('summary', {}, h('strong', {}, s.document_filename || '(deleted document)'),
            ` — score ${typeof s.similarity_score === 'number' ? s.similarity_score.toFixed(2) : '—'}`,
            where ? h('span', { class: 'muted' }, ` · ${where}`) : ''),
          h('blockquote', { class: 'passage' }, s.text || '')));
      }))));
  } else if (!a.fallback_triggered) {
    out.append(h('p', { class: 'muted small' }, 'No sources.'));
  }
  const tokens = a.tokens_used && a.tokens_used.total;
  out.append(h('p', { class: 'muted small' },
    [typeof tokens === 'number' && `${num(tokens)} tokens`,
      typeof a.processing_time_ms === 'number' && `${num(a.processing_time_ms)} ms`].filter(Boolean).join(' · ')));
  const id = a.message_id || a.id;
  if (id) out.append(feedback(id, a.feedback));
  return out;
}

// Thumbs up/down for an answer; a thumbs down opens an optional comment. Rating again replaces the rating.
export function feedback(messageId, current) {
  let rating = current && current.rating || null;
  const up = h('button', { type: 'button', class: 'vote', 'aria-pressed': 'false' }, thumb(false), ' Helpful');
  const down = h('button', { type: 'button', class: 'vote', 'aria-pressed': 'false' }, thumb(true), ' Not helpful');
  const comment = h('textarea', { rows: 2, maxlength: 2000, value: current && current.comment || '' });
  const send = h('button', { type: 'button' }, 'Send comment');
  const commentBox = h('div', { class: 'comment', hidden: true }, field('What was wrong? (optional)', comment), send);
  const msg = msgBox();
  const show = () => {
    up.setAttribute('aria-pressed', String(rating === 'up'));
    down.setAttribute('aria-pressed', String(rating === 'down'));
    commentBox.hidden = rating !== 'down';
  };
  async function rate(button, r, withComment) {
    const body = { rating: r };
    if (withComment && comment.value.trim()) body.comment = comment.value.trim();
    await act(button, '', msg, async () => {
      await api(`chat/messages/${encodeURIComponent(messageId)}/feedback`, { method: 'POST', body });
      rating = r;
      show();
      msg.ok(withComment ? 'Thanks — comment saved.' : `Thanks — rated ${r === 'up' ? 'helpful' : 'not helpful'}.`);
      if (r === 'down' && !withComment) comment.focus();
    });
  }
  up.addEventListener('click', () => rate(up, 'up', false));
  down.addEventListener('click', () => rate(down, 'down', false));
  send.addEventListener('click', () => rate(send, 'down', true));
  show();
  return h('div', { class: 'feedback', role: 'group', 'aria-label': 'Rate this answer' }, up, down, commentBox, msg);
}
