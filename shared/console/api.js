// The console's API client: the admin key (kept in sessionStorage only), JSON requests whose failures become
// sentences a person can act on, uploads with progress (XMLHttpRequest), and chat answers streamed as
// server-sent events read from fetch's body.

// Relative to the page, so the console works under any path prefix (/console/, /faqsure/console/, …).
export const BASE = new URL('../api/v1/', location.href);
const STORE = 'faqsure.console.key';

export const session = {
  get key() { return sessionStorage.getItem(STORE); },
  set(key) { sessionStorage.setItem(STORE, key); },
  clear() { sessionStorage.removeItem(STORE); },
};

// Called with the error when any request made with the session's key answers 401 (app.js signs out).
let unauthorized = () => {};
export function onUnauthorized(fn) { unauthorized = fn; }

// An API failure: `status` (0 when the server could not be reached), the API's `code` and a readable message.
export class ApiError extends Error {
  constructor(status, body, header = () => null) {
    super(describe(status, body, header));
    this.status = status;
    this.code = body && body.error;
    this.body = body;
  }
}

function describe(status, body, header) {
  const said = body && typeof body.message === 'string' ? body.message : '';
  if (status === 0) return said || 'Network error: the server could not be reached. Check the connection and try again.';
  if (status === 429) {
    const secs = parseInt(header('Retry-After'), 10);
    const wait = Number.isFinite(secs) ? `Try again in ${secs} second${secs === 1 ? '' : 's'}.` : 'Try again shortly.';
    return `Rate limit reached: ${said || 'too many requests'}. ${wait}`;
  }
  if (status === 402) return `The account's token balance is exhausted, so this cannot run. Ask the operator to top it up (faqsurectl account topup).`;
  if (status === 405) return `${said || 'This action is not available'} — this server does not support it yet.`;
  let text = said || `The server answered HTTP ${status}.`;
  if (status === 503) text += ' A service the server depends on is unavailable; try again later.';
  if (status >= 500) {
    const rid = header('X-Request-Id');
    if (rid) text += ` (request id ${rid})`;
  }
  return text;
}

// The text to show for any error a page catches ('' for an aborted request: nothing to say).
export function errorText(e) {
  if (!e || e.name === 'AbortError') return '';
  return e instanceof ApiError ? e.message : `Unexpected error: ${e.message || e}`;
}

export const isAbort = e => e && e.name === 'AbortError';

export function url(path, query) {
  const u = new URL(path, BASE);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '' && v !== false) u.searchParams.set(k, v);
  }
  return u;
}

async function readJson(res) {
  try { return await res.json(); } catch { return null; }
}

function failed(status, body, header, ownKey) {
  const err = new ApiError(status, body, header);
  if (status === 401 && ownKey) unauthorized(err);
  return err;
}

// One JSON request. opts: method, body (sent as JSON), query, signal, key (another key than the session's:
// sign-in checks a key this way, and its 401 does not sign anyone out).
export async function api(path, { method = 'GET', body, query, signal, key } = {}) {
  const headers = { 'X-API-Key': key || session.key || '' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url(path, query), {
      method, headers, signal, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(0, null);
  }
  const data = await readJson(res);
  if (!res.ok) throw failed(res.status, data, n => res.headers.get(n), !key);
  return data;
}

// Uploads one file (multipart field `file`) with XMLHttpRequest, whose upload events give progress (0..1).
export function upload(file, { filename, onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url('documents/upload'));
    xhr.setRequestHeader('X-API-Key', session.key || '');
    xhr.upload.onprogress = e => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON: described by status */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(failed(xhr.status, data, n => xhr.getResponseHeader(n), true));
    };
    xhr.onerror = () => reject(new ApiError(0, null));
    xhr.onabort = () => reject(new DOMException('upload cancelled', 'AbortError'));
    if (signal) signal.addEventListener('abort', () => xhr.abort(), { once: true });
    const form = new FormData();
    form.append('file', file, filename || file.name);
    xhr.send(form);
  });
}

// Splits one server-sent event block into {event, data} (data lines joined, parsed as JSON).
function parseEvent(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;  // a comment (keep-alive)
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  let parsed = null;
  try { parsed = JSON.parse(data.join('\n')); } catch { /* left null */ }
  return { event, data: parsed };
}

// POST /chat with "stream": true. onDelta(text) gets each piece as it arrives; resolves to the `done` object.
export async function chatStream(body, { onDelta, signal }) {
  let res;
  try {
    res = await fetch(url('chat'), {
      method: 'POST', signal, cache: 'no-store', credentials: 'omit',
      headers: { 'X-API-Key': session.key || '', 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify({ ...body, stream: true }),
    });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(0, null);
  }
  if (!res.ok) throw failed(res.status, await readJson(res), n => res.headers.get(n), true);
  if (!(res.headers.get('Content-Type') || '').startsWith('text/event-stream')) {
    const whole = await readJson(res);  // a server that answered in one piece
    if (whole && typeof whole.message === 'string') onDelta(whole.message);
    return whole;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let done = null;
  try {
    for (;;) {
      let chunk;
      try { chunk = await reader.read(); } catch (e) {
        if (isAbort(e)) throw e;
        throw new ApiError(0, { message: 'The connection broke while the answer was arriving.' });
      }
      buffer += decoder.decode(chunk.value || new Uint8Array(), { stream: !chunk.done });
      buffer = buffer.replace(/\r\n/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const { event, data } = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event === 'delta' && data && typeof data.content === 'string') onDelta(data.content);
        else if (event === 'done') done = data;
        else if (event === 'error') throw new ApiError(data && data.status || 503, data);
      }
      if (chunk.done) break;
    }
  } finally {
    reader.cancel().catch(() => {});  // closes the connection if we stopped early; harmless at the end
  }
  if (!done) throw new ApiError(0, { message: 'The answer stream ended before the answer was complete.' });
  return done;
}
