// The documents page: upload files (drop them, or choose several), each with its progress bar and then its live
// status while the worker indexes it; the list of documents with delete and replace.
import { api, upload, isAbort, errorText } from './api.js';
import { h, heading, msgBox, act, pager, table, badge, num, plural, bytes, timeEl, confirmDialog } from './dom.js';

const ACCEPT = '.pdf,.docx,.html,.htm,.xhtml,.md,.markdown,.csv,.txt';

const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); reject(new DOMException('left', 'AbortError')); }, { once: true });
});

export function render(ctx) {
  ctx.title('Documents');
  const rows = new Map();      // document id → its table row
  const watching = new Map();  // document id → promise of its final state (one poll per document)
  const announce = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });

  // Polls GET /documents/{id} until the worker has decided (ready or failed), keeping the document's row up to
  // date; onChange (optional) sees every state too. One poll per document however often it is asked for.
  function watch(id, onChange) {
    if (!watching.has(id)) {
      const listeners = new Set([doc => { const row = rows.get(doc.id); if (row) row.replaceWith(docRow(doc)); }]);
      const done = (async () => {
        for (let i = 0; ; i++) {
          await sleep(i < 30 ? 1000 : 3000, ctx.signal);
          const doc = await api(`documents/${encodeURIComponent(id)}`, { signal: ctx.signal });
          for (const fn of [...listeners]) fn(doc);
          if (doc.status !== 'processing') return doc;
        }
      })();
      done.catch(() => {});
      watching.set(id, { listeners, done });
    }
    const w = watching.get(id);
    if (onChange) w.listeners.add(onChange);
    return w.done;
  }

  // ---- uploads ----
  const input = h('input', { type: 'file', multiple: true, accept: ACCEPT, id: 'file-input', class: 'visually-hidden', tabindex: '-1', 'aria-hidden': 'true' });
  const choose = h('button', { type: 'button', class: 'primary' }, 'Choose files');
  const zone = h('div', { class: 'dropzone', id: 'dropzone' },
    h('p', {}, h('strong', {}, 'Drop files here'), ' or ', choose),
    h('p', { class: 'help' }, 'PDF, Word (DOCX), HTML, Markdown, CSV or plain text; up to 25 MB each. The same file uploaded twice is indexed once.'));
  const uploads = h('ul', { class: 'uploads', 'aria-label': 'Uploads' });
  let replacing = null;  // the document a "Replace" choice is for

  choose.addEventListener('click', () => { replacing = null; input.multiple = true; input.click(); });
  input.addEventListener('change', () => {
    const files = [...input.files];
    const target = replacing;
    input.value = '';
    replacing = null;
    input.multiple = true;
    for (const f of target ? files.slice(0, 1) : files) startUpload(f, target);
  });
  zone.addEventListener('dragover', e => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', e => {
    e.preventDefault();
    zone.classList.remove('over');
    for (const f of e.dataTransfer.files) startUpload(f, null);
  });

  async function startUpload(file, old) {
    const bar = h('progress', { max: 100, value: 0, 'aria-label': `Upload of ${file.name}` });
    const state = h('span', { class: 'state' }, 'Uploading…');
    const item = h('li', { class: 'upload' },
      h('span', { class: 'fname' }, file.name, ' ', h('span', { class: 'muted' }, `(${bytes(file.size)})`),
        old && h('span', { class: 'muted small' }, ` — replaces ${old.filename}`)), bar, state);
    uploads.prepend(item);
    const say = (text, kind) => {
      state.replaceChildren(kind ? badge(kind) : '', kind ? ' ' : '', text);
      item.className = `upload ${kind || ''}`;
    };
    try {
      const doc = await upload(file, { onProgress: p => { bar.value = Math.round(p * 100); } });
      bar.value = 100;
      if (doc.duplicate && old && doc.id === old.id) {
        say('This file is the same as the current version: nothing to replace.', 'ready');
        return;
      }
      say(doc.duplicate ? 'Already uploaded: the same bytes are not indexed twice.' : 'Uploaded; indexing…', doc.status);
      list.reload();
      const final = doc.status === 'processing'
        ? await watch(doc.id, d => { if (d.status === 'processing') say(d.error ? `Indexing (retrying after: ${d.error})` : 'Indexing…', 'processing'); })
        : await api(`documents/${encodeURIComponent(doc.id)}`, { signal: ctx.signal });  // a duplicate: its details
      if (final.status === 'ready') {
        say(`Ready — ${plural(final.chunk_count, 'chunk')}.`, 'ready');
        // Same name: the server retires the old version itself. Another name: retire it here, now that the new
        // one answers.
        if (old && final.id !== old.id && final.filename !== old.filename) {
          try {
            await api(`documents/${encodeURIComponent(old.id)}`, { method: 'DELETE' });
            say(`Ready — ${plural(final.chunk_count, 'chunk')}; ${old.filename} was deleted.`, 'ready');
          } catch (err) {
            if (err.status !== 404) say(`Ready, but ${old.filename} could not be deleted: ${errorText(err)}`, 'ready');
          }
        }
      } else {
        say(`Failed: ${final.error || 'no reason given'}${old ? ` — ${old.filename} was kept.` : ''}`, 'failed');
      }
      announce.textContent = `${file.name}: ${final.status}`;
      list.reload();
    } catch (err) {
      if (isAbort(err)) return;
      say(`Upload failed: ${errorText(err)}`, 'failed');
      announce.textContent = `${file.name}: upload failed`;
    }
  }

  // ---- list ----
  const statusFilter = h('select', { id: 'doc-status' },
    [['', 'All'], ['processing', 'Processing'], ['ready', 'Ready'], ['failed', 'Failed']].map(([v, l]) => h('option', { value: v }, l)));
  statusFilter.addEventListener('change', () => list.reload());
  const t = table('Documents', ['File', 'Status', 'Type', 'Size', 'Chunks', 'Tokens', 'Uploaded', 'Actions']);
  const msg = msgBox();

  function docRow(d) {
    const status = h('div', {}, badge(d.status), d.error && h('p', { class: d.status === 'failed' ? 'small error-text' : 'small muted' }, d.error));
    const replace = h('button', { type: 'button', 'aria-label': `Replace ${d.filename}` }, 'Replace…');
    const del = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${d.filename}` }, 'Delete');
    replace.addEventListener('click', () => { replacing = d; input.multiple = false; input.click(); });
    del.addEventListener('click', () => deleteDoc(d, del));
    const tr = t.row([h('strong', { class: 'break' }, d.filename), status, d.content_type || '—', bytes(d.size_bytes),
      num(d.chunk_count), num(d.tokens), timeEl(d.created_at), h('div', { class: 'row-actions' }, replace, del)]);
    tr.dataset.id = d.id;
    tr.dataset.status = d.status;
    rows.set(d.id, tr);
    if (d.status === 'processing') watch(d.id);
    return tr;
  }

  async function deleteDoc(d, button) {
    if (!await confirmDialog(`Delete “${d.filename}”?`, 'Delete document',
      'Its passages stop being used in answers at once. This cannot be undone.')) return;
    await act(button, 'Deleting…', msg, async () => {
      await api(`documents/${encodeURIComponent(d.id)}`, { method: 'DELETE', signal: ctx.signal });
      const row = rows.get(d.id);
      if (row) row.remove();
      rows.delete(d.id);
      msg.ok(`Deleted “${d.filename}”.`);
    });
  }

  const list = pager(ctx.signal,
    async (cursor, signal) => {
      const r = await api('documents', { query: { limit: 20, cursor, status: statusFilter.value }, signal });
      return { items: r.documents, next: r.next_cursor };
    },
    (items, first) => {
      if (first) { t.body.replaceChildren(); rows.clear(); }
      t.el.hidden = first && !items.length;
      for (const d of items) t.body.append(docRow(d));
    }, 'No documents yet. Upload some above.');

  ctx.main.append(heading('Documents'),
    h('p', {}, 'The knowledge base your agents answer from. Each file is split into chunks (passages) and indexed; it is used in answers once it is ready.'),
    h('section', { 'aria-labelledby': 'upload-h', class: 'card' }, h('h2', { id: 'upload-h' }, 'Upload'), zone, input, uploads, announce),
    h('section', { 'aria-labelledby': 'docs-h' },
      h('div', { class: 'section-head' }, h('h2', { id: 'docs-h' }, 'Your documents'),
        h('div', { class: 'field inline' }, h('label', { for: 'doc-status' }, 'Show'), statusFilter)),
      h('p', { class: 'help' }, 'Replace uploads a new version of a document. The current version keeps answering until the new one is ready, and is deleted then; if the new one fails, the current one stays.'),
      msg, t.el, list.el));
  list.reload();
}
