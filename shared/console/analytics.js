// The analytics page: GET /analytics/dashboard over a window of days, as cards, SVG charts (each with its data
// as a table too) and lists — with the unanswered questions, the down-voted answers and the least confident ones
// one click from the playground (and the answers from their conversation). Fields the server adds beyond today's
// API.md are shown generically, and missing ones are skipped.
import { api, isAbort } from './api.js';
import { h, heading, field, msgBox, busy, table, num, pct, plural, timeEl, humanize, loading, uid } from './dom.js';
import { columns, barRows } from './charts.js';

const KNOWN = new Set(['window', 'totals', 'latency', 'keys', 'daily', 'top_questions', 'unanswered_questions', 'documents',
  'feedback', 'downvoted_answers', 'lowest_confidence_answers']);
// The daily series; those a day does not carry (an older server) are left out.
const METRICS = [['conversations', 'Conversations'], ['messages', 'Messages'], ['fallbacks', 'Fallbacks'], ['tokens', 'Request tokens'],
  ['indexing_tokens', 'Indexing tokens']];

const tryIt = q => h('a', { href: `#/playground?q=${encodeURIComponent(q)}`, class: 'try' }, 'Try it in the playground');
const shortDate = d => new Date(`${d}T00:00:00Z`).toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const times = n => (n === 1 ? 'once' : `${num(n)} times`);
const isTime = v => typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(v);
// Text cut to about n characters at a word's end (whole characters, never half an emoji), with an ellipsis.
function shorten(text, n = 240) {
  const chars = [...String(text ?? '')];
  if (chars.length <= n) return chars.join('');
  const cut = chars.slice(0, n).join('');
  return `${cut.replace(/\s+\S*$/, '') || cut}…`;
}

function section(id, title, ...body) {
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), ...body);
}

const none = text => h('p', { class: 'muted' }, text);
const asTable = t => h('details', {}, h('summary', {}, 'The numbers as a table'), t.el);
// The fields of obj other than `known`, shown generically (nothing when there are none).
const others = (obj, known) => {
  const rest = Object.entries(obj).filter(([k]) => !known.includes(k));
  return rest.length ? generic(Object.fromEntries(rest)) : '';
};

function cards(list) {
  return h('dl', { class: 'cards' }, list.filter(Boolean).map(([label, value, sub]) =>
    h('div', { class: 'stat' }, h('dt', {}, label), h('dd', {}, value, sub && h('span', { class: 'sub' }, sub)))));
}

// Any value the page does not know: tables for lists of objects, definition lists for objects, text otherwise.
function generic(v) {
  if (Array.isArray(v)) {
    if (!v.length) return none('None.');
    if (v.every(x => x && typeof x === 'object' && !Array.isArray(x))) {
      const cols = [...new Set(v.flatMap(Object.keys))].slice(0, 8);
      const withQ = cols.includes('question');
      const t = table('', cols.map(humanize).concat(withQ ? ['Try it'] : []));
      for (const row of v) {
        const cells = cols.map(c => (c === 'conversation_id' && row[c]
          ? h('a', { href: `#/conversations/${encodeURIComponent(row[c])}` }, 'Open')
          : /confidence|rate/.test(c) && typeof row[c] === 'number' ? pct(row[c]) : scalar(row[c])));
        t.body.append(t.row(withQ ? cells.concat([row.question ? tryIt(row.question) : '']) : cells));
      }
      return t.el;
    }
    return h('ul', {}, v.map(x => h('li', {}, scalar(x))));
  }
  if (v && typeof v === 'object') {
    return h('dl', { class: 'pairs' }, Object.entries(v).map(([k, x]) => [h('dt', {}, humanize(k)), h('dd', {}, scalar(x))]));
  }
  return h('p', {}, scalar(v));
}

// Answers to look at (down-voted, least confident): each with its question, the answer shortened, what the list
// adds (`rows`: [label, value] pairs), and links to its conversation and to the playground.
function answerList(items, rows) {
  return h('ol', { class: 'questions answers' }, items.map(a => {
    const qid = uid('answer-q');
    const links = [
      a.conversation_id && h('a', { href: `#/conversations/${encodeURIComponent(a.conversation_id)}`, 'aria-describedby': qid },
        'Open conversation'),
      a.question && h('a', { href: `#/playground?q=${encodeURIComponent(a.question)}`, class: 'try', 'aria-describedby': qid },
        'Try it in the playground')].filter(Boolean);
    return h('li', {},
      h('p', { class: 'q', id: qid }, a.question || '(the question is gone)'),
      h('dl', { class: 'pairs' },
        h('dt', {}, 'Answer'), h('dd', { class: 'answer-short' }, a.answer ? shorten(a.answer) : '—'),
        rows(a).map(([label, value]) => [h('dt', {}, label), h('dd', {}, value)])),
      links.length ? h('p', { class: 'links' }, links) : '');
  }));
}

function scalar(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return num(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (isTime(v)) return timeEl(v);
  if (Array.isArray(v)) return v.map(x => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join('; ');
  if (typeof v === 'object') return Object.entries(v).map(([k, x]) => `${humanize(k)}: ${typeof x === 'number' ? num(x) : JSON.stringify(x)}`).join(' · ');
  return String(v);
}

export function render(ctx) {
  ctx.title('Analytics');
  const from = h('input', { type: 'date' });
  const to = h('input', { type: 'date' });
  const apply = h('button', { type: 'submit', class: 'primary' }, 'Show');
  const msg = msgBox();
  const out = h('div', { class: 'dashboard' }, loading('Loading the dashboard…'));
  const form = h('form', { class: 'card range' },
    h('div', { class: 'grid3' }, field('From (UTC)', from), field('To (UTC)', to), h('div', { class: 'actions' }, apply)),
    h('p', { class: 'help' }, 'Leave both empty for the last 30 days.'), msg);
  let data = null;
  let metric = 'conversations';
  const charts = [];  // redrawn to the new width when the window is resized

  async function load() {
    msg.clear();
    await busy(apply, 'Loading…', async () => {
      try {
        data = await api('analytics/dashboard', { query: { from: from.value, to: to.value }, signal: ctx.signal });
        draw();
      } catch (err) {
        if (isAbort(err)) return;
        out.replaceChildren();
        msg.error(err);
      }
    });
  }
  form.addEventListener('submit', e => { e.preventDefault(); load(); });

  function chartBox(make) {
    const box = h('div', { class: 'chart-box' });
    const paint = () => box.replaceChildren(make(box.clientWidth || 600));
    box.paint = paint;
    charts.push(paint);
    requestAnimationFrame(paint);  // once the box is in the page and has a width
    return box;
  }

  function draw() {
    const d = data;
    const t = d.totals || {};
    charts.length = 0;
    out.replaceChildren();
    if (d.window) out.append(h('p', { class: 'muted' }, `From ${d.window.from} to ${d.window.to} (${num(d.window.days)} days, UTC).`));

    // Totals, in three groups; totals fields this page does not know follow as cards of their own.
    const tok = t.tokens || {};
    const docs = t.documents || {};
    const knownTotals = new Set(['conversations', 'messages', 'questions', 'answered', 'fallbacks', 'fallback_rate',
      'average_confidence', 'tokens', 'indexing_tokens', 'documents_indexed', 'token_balance', 'documents', 'chunks']);
    const extra = Object.entries(t).filter(([k]) => !knownTotals.has(k))
      .map(([k, v]) => [humanize(k), scalar(v)]);
    out.append(section('usage-h', 'Usage', cards([
      ['Conversations', num(t.conversations)], ['Messages', num(t.messages)], ['Questions', num(t.questions)],
      ['Answered', num(t.answered)], ['Fallbacks', num(t.fallbacks), `${pct(t.fallback_rate)} of questions`],
      ['Average confidence', pct(t.average_confidence)], ...extra.filter(([k]) => !/token/i.test(k))])));
    out.append(section('spend-h', 'Balance and spend', cards([
      ['Token balance', t.token_balance === null ? 'Unlimited' : num(t.token_balance)],
      ['Request tokens', num(tok.total), `chat and search · prompt ${num(tok.prompt)} · completion ${num(tok.completion)}`],
      t.indexing_tokens !== undefined && ['Indexing tokens', num(t.indexing_tokens),
        t.documents_indexed !== undefined ? `${plural(t.documents_indexed, 'document')} indexed` : ''],
      ...extra.filter(([k]) => /token/i.test(k))])));
    out.append(section('kb-h', 'Knowledge base', cards([
      ['Documents', num(docs.total), `${num(docs.ready)} ready · ${num(docs.processing)} processing · ${num(docs.failed)} failed`],
      ['Chunks', num(t.chunks)]])));

    // Daily series: one metric at a time, chosen with radio buttons.
    if (Array.isArray(d.daily) && d.daily.length) {
      const first = d.daily[0].date;
      const last = d.daily[d.daily.length - 1].date;
      const metrics = METRICS.filter(([k]) => k in d.daily[0]);
      if (!metrics.some(([k]) => k === metric)) metric = metrics.length ? metrics[0][0] : METRICS[0][0];
      const daily = chartBox(w => {
        const label = (METRICS.find(m => m[0] === metric) || [metric, humanize(metric)])[1];
        const total = d.daily.reduce((a, x) => a + (x[metric] || 0), 0);
        return columns({ width: w, cls: metric, title: `${label} per day`,
          desc: `${label} per day from ${first} to ${last}; ${num(total)} in all. The table below lists every day.`,
          points: d.daily.map(x => ({ label: shortDate(x.date), value: x[metric] || 0,
            tip: `${x.date}: ${num(x[metric] || 0)} ${label.toLowerCase()}` })) });
      });
      const radios = h('fieldset', { class: 'metric' }, h('legend', {}, 'Show'), metrics.map(([k, label]) => {
        const r = h('input', { type: 'radio', name: 'metric', value: k, checked: k === metric });
        r.addEventListener('change', () => { metric = k; daily.paint(); });
        return field(label, r);
      }));
      const dataTable = table('Daily numbers', ['Day', ...metrics.map(m => m[1])]);
      for (const day of d.daily) dataTable.body.append(dataTable.row([day.date, ...metrics.map(([k]) => num(day[k]))]));
      out.append(section('daily-h', 'Per day', radios, daily,
        asTable(dataTable)));
    }

    // Latency per route.
    if (Array.isArray(d.latency) && d.latency.length) {
      const lt = table('Latency per route', ['Route', 'Requests', 'Average', 'p50', 'p95']);
      for (const r of d.latency) lt.body.append(lt.row([`${r.method} ${r.route}`, num(r.requests), `${r.average_ms} ms`, `${num(r.p50_ms)} ms`, `${num(r.p95_ms)} ms`]));
      out.append(section('latency-h', 'Latency per route', chartBox(w => barRows({ width: w,
        title: 'Server time per route (milliseconds)', desc: 'For each route, the median (p50) and 95th percentile (p95) in milliseconds.',
        legend: [{ name: 'p50', cls: 'p50' }, { name: 'p95', cls: 'p95' }], format: v => `${num(v)} ms`,
        rows: d.latency.map(r => ({ label: `${r.method} ${r.route} · ${plural(r.requests, 'request')}`,
          bars: [{ name: 'p50', value: r.p50_ms, cls: 'p50' }, { name: 'p95', value: r.p95_ms, cls: 'p95' }] })) })),
      asTable(lt)));
    }

    // Keys.
    if (Array.isArray(d.keys)) {
      const kt = table('Requests per API key', ['Key', 'Prefix', 'Requests', 'Rate-limited (429)', 'Errors']);
      for (const k of d.keys) kt.body.append(kt.row([k.name, h('code', {}, k.prefix), num(k.requests), num(k.rate_limited), num(k.errors)]));
      out.append(section('keys-h', 'API keys', d.keys.length ? [chartBox(w => barRows({ width: w,
        title: 'Requests per API key', desc: 'For each key: its requests, those refused by its rate limit (429), and other errors.',
        legend: [{ name: 'requests', cls: '' }, { name: 'rate-limited', cls: 'limited' }, { name: 'errors', cls: 'errors' }],
        rows: d.keys.map(k => ({ label: `${k.name} (${k.prefix})`, bars: [{ name: 'requests', value: k.requests },
          { name: 'rate-limited', value: k.rate_limited, cls: 'limited' }, { name: 'errors', value: k.errors, cls: 'errors' }] })) })),
      asTable(kt)] : none('No requests in this window.')));
    }

    // Unanswered questions: what to write next.
    if (Array.isArray(d.unanswered_questions)) {
      out.append(section('unanswered-h', 'Unanswered questions',
        h('p', { class: 'help' }, 'Questions that fell back most often: write the documents that answer these next.'),
        d.unanswered_questions.length ? h('ol', { class: 'questions' }, d.unanswered_questions.map(q => h('li', {},
          h('p', { class: 'q' }, q.question),
          h('p', { class: 'small muted' }, `Asked ${times(q.count)}, fell back ${times(q.fallbacks)} · last asked `, timeEl(q.last_asked)),
          q.paraphrases && q.paraphrases.length ? h('p', { class: 'small' }, 'Also asked as: ', q.paraphrases.map((p, i) => [i ? '; ' : '', h('q', {}, p)])) : '',
          tryIt(q.question)))) : none('None: every question found an answer.')));
    }

    // Answers to read: those rated down, and those the knowledge base was least sure of.
    if (Array.isArray(d.downvoted_answers)) {
      out.append(section('downvoted-h', 'Down-voted answers',
        h('p', { class: 'help' }, 'Answers rated not helpful, newest rating first: read these first.'),
        d.downvoted_answers.length ? answerList(d.downvoted_answers, a => [
          ['Comment', a.comment ? h('q', { class: 'comment' }, a.comment) : h('span', { class: 'muted' }, 'No comment')],
          ['Confidence', pct(a.confidence)],
          ['Rated', timeEl(a.rated_at || a.created_at)]]) : none('No answer was rated down in this window.')));
    }
    if (Array.isArray(d.lowest_confidence_answers)) {
      out.append(section('least-sure-h', 'Least confident answers',
        h('p', { class: 'help' }, 'The answers the knowledge base was least sure of, least sure first: candidates for a better document, or a higher threshold.'),
        d.lowest_confidence_answers.length ? answerList(d.lowest_confidence_answers, a => [
          ['Confidence', pct(a.confidence)],
          ['Answered', timeEl(a.created_at)]]) : none('No answer from the knowledge base in this window.')));
    }

    if (Array.isArray(d.top_questions)) {
      const qt = table('Top questions', ['Question', 'Asked', 'Answered', 'Fallbacks', '']);
      for (const q of d.top_questions) {
        qt.body.append(qt.row([h('div', {}, q.question, q.paraphrases && q.paraphrases.length
          ? h('p', { class: 'small muted' }, `Also: ${q.paraphrases.join('; ')}`) : ''),
        num(q.count), num(q.answered), num(q.fallbacks), tryIt(q.question)]));
      }
      out.append(section('top-h', 'Top questions', d.top_questions.length ? qt.el : none('No questions in this window.')));
    }

    // Documents cited, and never cited.
    if (d.documents && typeof d.documents === 'object') {
      const dd = d.documents;
      const most = dd.most_cited || [];
      const never = dd.never_cited || [];
      const mt = table('Most cited documents', ['Document', 'Citations']);
      for (const x of most) mt.body.append(mt.row([x.filename === null ? '(deleted document)' : x.filename, num(x.citations)]));
      out.append(section('docs-h', 'Documents',
        h('h3', {}, 'Most cited'), most.length ? mt.el : none('No answer cited a document in this window.'),
        h('h3', {}, `Never cited (${num(dd.never_cited_count ?? never.length)})`),
        never.length ? h('ul', { class: 'plain cols' }, never.map(x => h('li', {}, x.filename))) : none('Every ready document was cited.'),
        others(dd, ['most_cited', 'never_cited', 'never_cited_count'])));
    }

    // Feedback.
    if (d.feedback && typeof d.feedback === 'object') {
      const f = d.feedback;
      out.append(section('feedback-h', 'Feedback',
        cards([['Helpful (thumbs up)', num(f.up)], ['Not helpful (thumbs down)', num(f.down)]]),
        others(f, ['up', 'down'])));
    }

    // Whatever else the server sends.
    for (const [k, v] of Object.entries(d)) {
      if (!KNOWN.has(k)) out.append(section(`x-${k}-h`, humanize(k), generic(v)));
    }
  }

  let resizeTimer = 0;
  const onResize = () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => charts.forEach(p => p()), 150); };
  window.addEventListener('resize', onResize);

  ctx.main.append(heading('Analytics'), form, out);
  load();
  return () => { window.removeEventListener('resize', onResize); clearTimeout(resizeTimer); };
}
