// The HTTP API client the pages share: bearer tokens kept in sessionStorage
// (no cookies, so no CSRF), one refresh on 401, and every failure turned into
// an ApiFailure carrying the server's code, message and correlation id.

const KEY = 'insight.session';

export const session = {
  get() {
    try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch { return null; }
  },
  set(s) { sessionStorage.setItem(KEY, JSON.stringify(s)); },
  clear() { sessionStorage.removeItem(KEY); },
};

/** An error from the API, ready to show to a person. */
export class ApiFailure extends Error {
  constructor(status, body, correlation) {
    const e = (body && body.error) || {};
    super(e.message || `The server answered ${status}.`);
    this.status = status;
    this.code = e.code || (status === 0 ? 'network' : 'unknown');
    this.correlationId = e.correlation_id || correlation || null;
    this.details = e.details || null;
  }

  /** A sentence for people, by error code. */
  human() {
    const retry = this.details && this.details.retry_after_secs;
    switch (this.code) {
      case 'unauthorized': return 'Your session has ended or the credentials are wrong. Please sign in again.';
      case 'forbidden': return `You are not allowed to do this. ${this.message}`;
      case 'rate_limited': {
        const wait = !retry ? 'a few seconds' : retry >= 90 ? `${Math.ceil(retry / 60)} minutes` : `${retry} seconds`;
        return `Too many attempts. Please wait ${wait} and try again.`;
      }
      case 'not_found': return `This was not found: ${this.message}.`;
      case 'sql_rejected': return `The SQL was refused by the safety check: ${this.message}`;
      case 'unanswerable': return `The question could not be answered from this database: ${this.message}`;
      case 'query_failed': return `The database could not run the query: ${this.message}`;
      case 'query_timeout': return `The query took too long and was stopped. ${this.message}`;
      case 'upstream_unavailable': return `A service we depend on is unavailable right now. ${this.message}`;
      case 'network': return 'The service could not be reached. Check your connection and try again.';
      case 'internal': return 'Something went wrong on our side.';
      default: return this.message;
    }
  }
}

async function parse(resp) {
  const type = resp.headers.get('content-type') || '';
  if (resp.status === 204) return null;
  if (type.includes('application/json')) return resp.json();
  return resp.text();
}

let refreshing = null;
async function refresh() {
  const s = session.get();
  if (!s || !s.refresh_token) return false;
  refreshing = refreshing || fetch('/api/v1/auth/refresh', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: s.refresh_token }),
  }).then(async (r) => {
    if (!r.ok) return false;
    const pair = await r.json();
    session.set({ ...s, access_token: pair.access_token, refresh_token: pair.refresh_token });
    return true;
  }).catch(() => false).finally(() => { setTimeout(() => { refreshing = null; }, 0); });
  return refreshing;
}

/** Listeners told when the session ends (the app shows the login page). */
export const onSignedOut = new Set();

export async function raw(method, path, body, { retry = true, accept } = {}) {
  const s = session.get();
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (s && s.access_token) headers.authorization = `Bearer ${s.access_token}`;
  if (accept) headers.accept = accept;
  let resp;
  try {
    resp = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiFailure(0, null, null);
  }
  if (resp.status === 401 && retry && s && path !== '/auth/login') {
    if (await refresh()) return raw(method, path, body, { retry: false, accept });
    session.clear();
    onSignedOut.forEach((f) => f());
  }
  return resp;
}

export async function api(method, path, body) {
  const resp = await raw(method, path, body);
  const data = await parse(resp).catch(() => null);
  if (!resp.ok) throw new ApiFailure(resp.status, data, resp.headers.get('x-correlation-id'));
  return data;
}

export async function login(username, password) {
  const pair = await api('POST', '/auth/login', { username, password });
  session.set({ access_token: pair.access_token, refresh_token: pair.refresh_token });
  const me = await api('GET', '/auth/me');
  session.set({ ...session.get(), me });
  return me;
}

export async function logout() {
  const s = session.get();
  if (s && s.refresh_token) {
    await api('POST', '/auth/logout', { refresh_token: s.refresh_token }).catch(() => {});
  }
  session.clear();
}

/** A chart as an SVG string (or null when no chart fits). */
export async function chartSvg(body) {
  const resp = await raw('POST', '/charts/svg', body, { accept: 'image/svg+xml' });
  if (resp.status === 204) return null;
  const data = await parse(resp).catch(() => null);
  if (!resp.ok) throw new ApiFailure(resp.status, data, resp.headers.get('x-correlation-id'));
  return data;
}

/**
 * POST /ask/stream and call onEvent(name, data) for each Server-Sent Event.
 * Resolves with the final answer (rows from the `rows` event) or throws the
 * `error` event's ApiFailure.
 */
export async function askStream(body, onEvent) {
  const resp = await raw('POST', '/ask/stream', body, { accept: 'text/event-stream' });
  if (!resp.ok) {
    const data = await parse(resp).catch(() => null);
    throw new ApiFailure(resp.status, data, resp.headers.get('x-correlation-id'));
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let rows = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const chunk = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = 'message';
      const lines = [];
      for (const line of chunk.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) lines.push(line.slice(5).replace(/^ /, ''));
      }
      if (!lines.length) continue;
      let data;
      try { data = JSON.parse(lines.join('\n')); } catch { continue; }
      if (name === 'rows') rows = data;
      onEvent(name, data);
      if (name === 'done') return { ...data, rows: rows ? rows.rows : [] };
      if (name === 'error') throw new ApiFailure(422, data, null);
    }
  }
  throw new ApiFailure(0, null, null);
}
