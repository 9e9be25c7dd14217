// Administration pages (admins only; the API refuses everyone else with 403)
// and the caller's own API keys.

import { h, clear, announce, fmtNumber, fmtDate, field } from './dom.js';
import { api, session } from './api.js';
import { errorBox, notice, chartPanel } from './pages.js';

function title(text, ...rest) {
  document.title = `${text} · Insight Engine`;
  return h('div', { class: 'page-head' }, h('h1', {}, text), ...rest);
}

export function adminTabs(current) {
  const tabs = [['/ui/admin', 'Dashboard'], ['/ui/admin/users', 'Users'], ['/ui/admin/connections', 'Connections'], ['/ui/admin/operations', 'Jobs & backups'], ['/ui/admin/audit', 'Audit log']];
  return h('nav', { class: 'tabs', 'aria-label': 'Administration' }, tabs.map(([href, label]) => h('a', { href, 'aria-current': href === current ? 'page' : null }, label)));
}

function table(caption, headers, rows) {
  return h('div', { class: 'table-scroll' }, h('table', {},
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows)));
}

const pct = (x) => (x === null || x === undefined ? '—' : `${Math.round(x * 1000) / 10}%`);

// ---------------------------------------------------------------- dashboard

export async function dashboardPage(main) {
  const days = h('select', {}, [7, 30, 90].map((d) => h('option', { value: d, selected: d === 30 }, `Last ${d} days`)));
  const body = h('div');
  const period = field('Period', days);
  period.classList.add('inline');
  clear(main, title('Administration'), adminTabs('/ui/admin'), period, body);
  async function load() {
    clear(body, h('p', { class: 'muted' }, 'Loading…'));
    try {
      const s = await api('GET', `/admin/stats?days=${days.value}`);
      const tile = (label, value, hint) => h('div', { class: 'tile' }, h('div', { class: 'tile-value' }, value), h('div', { class: 'tile-label' }, label), hint ? h('div', { class: 'muted small' }, hint) : null);
      const perDay = { mark: { type: 'line', point: true }, data: { values: s.per_day.map((d) => ({ day: d.day, questions: d.questions })) }, encoding: { x: { field: 'day', type: 'temporal' }, y: { field: 'questions', type: 'quantitative' } } };
      const tokens = { mark: 'bar', data: { values: s.per_day.filter((d) => d.prompt_tokens + d.completion_tokens > 0).map((d) => ({ day: d.day, tokens: d.prompt_tokens + d.completion_tokens })) }, encoding: { x: { field: 'day', type: 'nominal' }, y: { field: 'tokens', type: 'quantitative' } } };
      const tables = { mark: 'bar', data: { values: s.top_tables.map((t) => ({ table: t.table, questions: t.questions })) }, encoding: { x: { field: 'table', type: 'nominal', sort: '-y' }, y: { field: 'questions', type: 'quantitative' } } };
      clear(body,
        h('section', { class: 'tiles', 'aria-label': 'Key figures' },
          tile('Questions', fmtNumber(s.questions), `since ${s.since}`),
          tile('Answer rate', pct(s.answer_rate), `${fmtNumber(s.answered)} answered`),
          tile('Thumbs-up ratio', pct(s.thumbs_up_ratio), `${s.thumbs_up} up · ${s.thumbs_down} down`),
          tile('p95 latency', s.p95_latency_ms === null ? '—' : `${fmtNumber(s.p95_latency_ms)} ms`, 'answered questions'),
          tile('LLM tokens', fmtNumber(s.prompt_tokens + s.completion_tokens), `${fmtNumber(s.prompt_tokens)} prompt · ${fmtNumber(s.completion_tokens)} completion`)),
        h('div', { class: 'grid2' },
          chartPanel({ spec: perDay }, 'Questions per day'),
          s.top_tables.length ? chartPanel({ spec: tables }, 'Top tables') : h('figure', { class: 'chart-box' }, h('figcaption', {}, 'Top tables'), h('p', { class: 'muted' }, 'No answered questions yet.')),
          tokens.data.values.length ? chartPanel({ spec: tokens }, 'LLM tokens per day') : h('figure', { class: 'chart-box' }, h('figcaption', {}, 'LLM tokens per day'), h('p', { class: 'muted' }, 'No tokens used: the built-in offline generator needs none.'))));
    } catch (e) { clear(body, errorBox(e)); }
  }
  days.addEventListener('change', load);
  load();
}

// ---------------------------------------------------------------- users

export async function usersPage(main, ctx) {
  const me = ctx.me;
  const msg = h('div');
  const list = h('div');
  const username = h('input', { name: 'new-username', required: true, autocomplete: 'off', pattern: '[A-Za-z0-9._@-]+' });
  const role = h('select', { name: 'new-role' }, ['viewer', 'analyst', 'admin'].map((r) => h('option', { value: r }, r)));
  const password = h('input', { name: 'new-password', type: 'password', autocomplete: 'new-password', minlength: '12' });
  const dbs = h('fieldset', { class: 'dbs' }, h('legend', {}, 'Databases (viewers and analysts reach only these)'));
  const create = h('form', { class: 'card stack' }, h('h2', {}, 'Create a user'),
    h('div', { class: 'row wrap' }, field('Username', username), field('Role', role), field('Password', password, 'At least 12 characters; leave empty to generate one.')),
    dbs,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Create user')));
  api('GET', '/connections').then((list) => {
    dbs.append(...list.map((c) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'grant', value: c.id, checked: c.default }), ` ${c.id}`)));
  }).catch((e) => dbs.append(errorBox(e)));
  clear(main, title('Administration'), adminTabs('/ui/admin/users'), msg, list, create);
  async function load() {
    try {
      const page = await api('GET', '/admin/users?limit=100');
      clear(list, table('Users', ['User', 'Role', 'Status', 'Created', 'Actions'], page.items.map((u) => {
        const sel = h('select', { 'aria-label': `Role of ${u.username}` }, ['viewer', 'analyst', 'admin'].map((r) => h('option', { value: r, selected: r === u.role }, r)));
        sel.addEventListener('change', () => change(u, { role: sel.value }, `${u.username} is now ${sel.value}.`));
        const editor = h('div', { class: 'grants' });
        const dbButton = u.role === 'admin' ? null : h('button', { type: 'button', 'aria-expanded': 'false', onclick: () => editGrants(u, editor, dbButton) }, 'Databases');
        return h('tr', {}, h('td', {}, u.username), h('td', {}, sel),
          h('td', {}, h('span', { class: `badge ${u.disabled ? 'failed' : 'answered'}` }, u.disabled ? 'disabled' : 'active')),
          h('td', {}, fmtDate(u.created_at)),
          h('td', { class: 'actions' }, h('button', { type: 'button', onclick: () => change(u, { disabled: !u.disabled }, `${u.username} ${u.disabled ? 'enabled' : 'disabled'}.`) }, u.disabled ? 'Enable' : 'Disable'), ' ', dbButton,
            u.id === me.user_id ? null : h('button', { type: 'button', onclick: () => resetPassword(u) }, 'Reset password'), editor));
      })));
    } catch (e) { clear(list, errorBox(e)); }
  }
  // The databases a viewer or analyst reaches (admins reach all of them).
  async function editGrants(u, box, button) {
    if (button.getAttribute('aria-expanded') === 'true') { clear(box); button.setAttribute('aria-expanded', 'false'); return; }
    try {
      const [conns, grants] = await Promise.all([api('GET', '/connections'), api('GET', `/admin/users/${u.id}/grants`)]);
      const has = new Set(grants.map((g) => g.connection));
      const boxes = conns.map((c) => h('label', { class: 'check' }, h('input', { type: 'checkbox', value: c.id, checked: has.has(c.id) }), ` ${c.id}`));
      const save = h('button', { type: 'button', class: 'primary' }, 'Save');
      save.addEventListener('click', async () => {
        const keep = grants.filter((g) => boxes.some((b) => b.firstChild.checked && b.firstChild.value === g.connection));
        const added = boxes.filter((b) => b.firstChild.checked && !has.has(b.firstChild.value)).map((b) => ({ connection: b.firstChild.value, allowed_tables: null }));
        try {
          await api('PUT', `/admin/users/${u.id}/grants`, [...keep, ...added]);
          clear(msg, notice(`Databases of ${u.username} saved.`));
          clear(box); button.setAttribute('aria-expanded', 'false');
        } catch (e) { clear(msg, errorBox(e)); }
      });
      clear(box, h('fieldset', { class: 'dbs' }, h('legend', {}, `Databases of ${u.username}`), boxes, save));
      button.setAttribute('aria-expanded', 'true');
    } catch (e) { clear(msg, errorBox(e)); }
  }
  // A generated password, shown once; the user's sessions and keys end.
  async function resetPassword(u) {
    if (!confirm(`Reset the password of ${u.username}? Their sessions and API keys stop working.`)) return;
    try {
      const r = await api('POST', `/admin/users/${u.id}/password`, {});
      clear(msg, h('div', { class: 'alert ok', role: 'status' }, h('p', {}, `New password of ${u.username}, shown only this once (their sessions and API keys are revoked):`), h('code', { class: 'secret' }, r.password)));
      announce(`Password of ${u.username} reset`);
    } catch (e) { clear(msg, errorBox(e)); }
  }
  async function change(u, patch, done) {
    try { await api('PATCH', `/admin/users/${u.id}`, patch); clear(msg, notice(done)); announce(done); load(); } catch (e) { clear(msg, errorBox(e)); load(); }
  }
  create.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { username: username.value.trim(), role: role.value };
    if (password.value) body.password = password.value;
    try {
      const r = await api('POST', '/admin/users', body);
      const grants = [...dbs.querySelectorAll('input[name=grant]:checked')].map((c) => ({ connection: c.value, allowed_tables: null }));
      if (r.role !== 'admin') await api('PUT', `/admin/users/${r.id}/grants`, grants);
      clear(msg, notice(r.password ? `Created ${r.username}. Their generated password, shown once: ${r.password}` : `Created ${r.username}.`));
      announce(`Created ${r.username}`);
      username.value = ''; password.value = '';
      load();
    } catch (e) { clear(msg, errorBox(e)); }
  });
  load();
}

// ---------------------------------------------------------------- connections

export async function connectionsPage(main) {
  const msg = h('div');
  const list = h('div');
  const id = h('input', { required: true, pattern: '[a-z0-9_-]+', maxlength: '64', autocomplete: 'off' });
  const dialect = h('select', {}, ['postgres', 'mysql', 'sqlite'].map((d) => h('option', { value: d }, d)));
  const dsn = h('input', { type: 'password', required: true, autocomplete: 'off' });
  const description = h('input', { maxlength: '500' });
  const create = h('form', { class: 'card stack' }, h('h2', {}, 'Add a connection'),
    h('div', { class: 'row wrap' }, field('Name', id, 'Lower-case letters, digits, - and _.'), field('Dialect', dialect),
      field('Connection string', dsn, 'postgres://user:pass@host/db, mysql://… or sqlite:///path.db; encrypted at rest, never shown again.'),
      field('Description (optional)', description)),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Add connection')));
  clear(main, title('Administration'), adminTabs('/ui/admin/connections'), msg, list, create);
  async function load() {
    try {
      const [visible, stored] = await Promise.all([api('GET', '/connections'), api('GET', '/admin/connections')]);
      const storedIds = new Set(stored.map((c) => c.id));
      clear(list, visible.map((c) => {
        const out = h('div');
        const test = h('button', { type: 'button', onclick: async () => {
          test.disabled = true;
          try {
            const r = await api('POST', '/sql/execute', { sql: 'SELECT 1', connection: c.id });
            clear(out, notice(`Connection ${c.id} works (answered in ${r.duration_ms} ms).`));
          } catch (e) { clear(out, errorBox(e)); }
          test.disabled = false;
        } }, 'Test connection');
        const refresh = h('button', { type: 'button', onclick: async () => {
          refresh.disabled = true;
          try {
            const job = await api('POST', '/admin/jobs', { kind: 'introspect', connection: c.id });
            clear(out, notice(`Reading the schema of ${c.id}…`));
            const done = await waitForJob(job.id);
            if (done.status === 'succeeded') {
              clear(out, notice(`Schema of ${c.id} refreshed: ${done.result.ddl_added} table definition(s) added, ${done.result.ddl_removed} removed.`));
            } else if (done.status === 'dead') {
              clear(out, notice(`Reading the schema failed: ${done.last_error}`, 'error'));
            } else {
              clear(out, notice(`Queued as job ${done.id}; a worker will run it (see Jobs & backups).`));
            }
          } catch (e) { clear(out, errorBox(e)); }
          refresh.disabled = false;
        } }, 'Refresh schema');
        const managed = storedIds.has(c.id) ? [
          refresh,
          h('button', { type: 'button', class: 'danger', onclick: async () => {
            if (!confirm(`Delete the connection ${c.id}?`)) return;
            try { await api('DELETE', `/admin/connections/${encodeURIComponent(c.id)}`); await load(); clear(msg, notice(`Deleted ${c.id}.`)); } catch (e) { clear(out, errorBox(e)); }
          } }, 'Delete'),
        ] : [refresh, h('span', { class: 'muted small' }, 'Built in or from the configuration file.')];
        return h('section', { class: 'card', 'aria-labelledby': `conn-${c.id}` },
          h('div', { class: 'toolbar' }, h('h2', { id: `conn-${c.id}` }, c.id), h('span', { class: 'badge' }, c.dialect), c.default ? h('span', { class: 'badge answered' }, 'default') : null, h('span', { class: 'grow' }), test, managed),
          c.description ? h('p', {}, c.description) : null,
          h('details', {}, h('summary', {}, `${c.tables.length} tables`),
            h('ul', { class: 'schema' }, c.tables.map((t) => h('li', {}, h('strong', {}, t.name), ` (${t.row_count === null || t.row_count === undefined ? '?' : fmtNumber(t.row_count)} rows): `, t.columns.join(', '))))),
          out);
      }));
    } catch (e) { clear(list, errorBox(e)); }
  }
  create.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { id: id.value.trim(), dialect: dialect.value, dsn: dsn.value };
    if (description.value.trim()) body.description = description.value.trim();
    try {
      await api('POST', '/admin/connections', body);
      clear(msg, notice(`Added ${body.id}.`));
      announce(`Added ${body.id}`);
      id.value = ''; dsn.value = ''; description.value = '';
      load();
    } catch (e) { clear(msg, errorBox(e)); }
  });
  load();
}

// ---------------------------------------------------------------- jobs and backups

/** Poll a job until it finished or ~15 s passed; the last state either way. */
async function waitForJob(id) {
  let job = await api('GET', `/admin/jobs/${encodeURIComponent(id)}`);
  for (let i = 0; i < 60 && (job.status === 'queued' || job.status === 'running'); i++) {
    await new Promise((r) => setTimeout(r, 250));
    job = await api('GET', `/admin/jobs/${encodeURIComponent(id)}`);
  }
  return job;
}

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export async function operationsPage(main) {
  const msg = h('div');
  const backups = h('div');
  const jobs = h('div');
  const status = h('select', {}, [['', 'All'], ['queued', 'Queued'], ['running', 'Running'], ['succeeded', 'Succeeded'], ['dead', 'Failed for good']]
    .map(([v, t]) => h('option', { value: v }, t)));
  const backupNow = h('button', { type: 'button', class: 'primary' }, 'Back up now');
  const reembed = h('button', { type: 'button' }, 'Re-embed training data');
  clear(main, title('Administration'), adminTabs('/ui/admin/operations'), msg,
    h('section', { class: 'card stack', 'aria-labelledby': 'backups-h' },
      h('div', { class: 'toolbar' }, h('h2', { id: 'backups-h' }, 'Backups'), h('span', { class: 'grow' }), backupNow), backups),
    h('section', { class: 'card stack', 'aria-labelledby': 'jobs-h' },
      h('div', { class: 'toolbar' }, h('h2', { id: 'jobs-h' }, 'Background jobs'), h('span', { class: 'grow' }), field('Show', status), reembed), jobs));
  async function loadBackups() {
    try {
      const list = await api('GET', '/admin/backups');
      clear(backups, list.items.length
        ? table('Backups', ['Taken', 'File', 'Store', 'Size'], list.items.map((b) => h('tr', {},
          h('td', {}, fmtDate(b.created_at)), h('td', {}, h('code', {}, b.name)), h('td', {}, b.backend), h('td', { class: 'num' }, fmtBytes(b.size_bytes)))))
        : h('p', {}, 'No backups yet.'),
      h('p', { class: 'muted small' }, `Stored in ${list.dir} on this instance. Restore with: insight restore FILE (into an empty store).`));
    } catch (e) { clear(backups, errorBox(e)); }
  }
  async function loadJobs() {
    try {
      const q = status.value ? `&status=${status.value}` : '';
      const page = await api('GET', `/admin/jobs?limit=50${q}`);
      clear(jobs, page.items.length
        ? table('Jobs', ['Queued', 'Kind', 'Status', 'Attempts', 'Outcome'], page.items.map((j) => h('tr', {},
          h('td', {}, fmtDate(j.created_at)), h('td', {}, j.kind + (j.payload && j.payload.connection ? ` (${j.payload.connection})` : '')),
          h('td', {}, h('span', { class: `badge ${j.status === 'succeeded' ? 'answered' : j.status === 'dead' ? 'failed' : ''}` }, j.status)),
          h('td', { class: 'num' }, `${j.attempts} / ${j.max_attempts}`),
          h('td', {}, j.last_error ? j.last_error : j.result ? JSON.stringify(j.result) : ''))))
        : h('p', {}, 'No jobs.'));
    } catch (e) { clear(jobs, errorBox(e)); }
  }
  backupNow.addEventListener('click', async () => {
    backupNow.disabled = true;
    try {
      const b = await api('POST', '/admin/backups', {});
      clear(msg, notice(`Backup ${b.name} written (${fmtBytes(b.size_bytes)}).`));
      announce('Backup written');
      loadBackups();
    } catch (e) { clear(msg, errorBox(e)); }
    backupNow.disabled = false;
  });
  reembed.addEventListener('click', async () => {
    try {
      const job = await api('POST', '/admin/jobs', { kind: 'reembed' });
      clear(msg, notice(`Queued job ${job.id}.`));
      loadJobs();
    } catch (e) { clear(msg, errorBox(e)); }
  });
  status.addEventListener('change', loadJobs);
  loadBackups();
  loadJobs();
}

// ---------------------------------------------------------------- audit

export async function auditPage(main) {
  const list = h('div');
  let offset = 0;
  clear(main, title('Administration'), adminTabs('/ui/admin/audit'), list);
  // Actors and targets are user ids: show usernames (the id stays in the
  // tooltip). Other targets (connections, keys, names) show as they are.
  const names = new Map();
  try {
    for (let at = 0, total = 1; at < total && at < 2000; at += 100) {
      const users = await api('GET', `/admin/users?limit=100&offset=${at}`);
      total = users.total;
      users.items.forEach((u) => names.set(u.id, u.username));
      if (!users.items.length) break;
    }
  } catch { /* names are a convenience; ids still identify */ }
  const who = (id) => (id && names.has(id) ? h('span', { title: id }, names.get(id)) : (id || ''));
  async function load() {
    try {
      const page = await api('GET', `/admin/audit?limit=50&offset=${offset}`);
      clear(list, table('Audit events', ['When', 'Actor', 'Action', 'Target', 'Reference'], page.items.map((e) => h('tr', {},
        h('td', {}, fmtDate(e.at)), h('td', {}, who(e.actor)), h('td', {}, e.action), h('td', {}, who(e.target)), h('td', {}, h('code', {}, e.correlation_id || ''))))),
      h('div', { class: 'pager' },
        h('button', { type: 'button', disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - 50); load(); } }, 'Newer'),
        h('span', {}, `${offset + 1}–${Math.min(offset + 50, page.total)} of ${page.total}`),
        h('button', { type: 'button', disabled: offset + 50 >= page.total, onclick: () => { offset += 50; load(); } }, 'Older')));
    } catch (e) { clear(list, errorBox(e)); }
  }
  load();
}

// ---------------------------------------------------------------- API keys

// Change your own password: the current one is required; every other
// session ends, and this tab carries on with the fresh tokens returned.
function passwordForm() {
  const msg = h('div');
  const current = h('input', { type: 'password', name: 'current-password', autocomplete: 'current-password', required: true });
  const next = h('input', { type: 'password', name: 'new-password', autocomplete: 'new-password', required: true, minlength: '12' });
  const again = h('input', { type: 'password', name: 'repeat-password', autocomplete: 'new-password', required: true, minlength: '12' });
  const form = h('form', { class: 'card stack', 'aria-labelledby': 'pw-title' }, h('h2', { id: 'pw-title' }, 'Change your password'),
    h('div', { class: 'row wrap' }, field('Current password', current), field('New password', next, 'At least 12 characters.'), field('New password again', again)),
    msg,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Change password')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (next.value !== again.value) { clear(msg, notice('The two new passwords differ.', 'error')); again.focus(); return; }
    try {
      const pair = await api('POST', '/auth/password', { current_password: current.value, new_password: next.value });
      session.set({ ...session.get(), access_token: pair.access_token, refresh_token: pair.refresh_token });
      clear(msg, notice('Password changed. You stay signed in here; every other session has ended.'));
      announce('Password changed');
      form.reset();
    } catch (e) {
      clear(msg, e.code === 'forbidden' ? notice('The current password is wrong.', 'error') : errorBox(e));
      current.value = ''; current.focus();
    }
  });
  return form;
}

export async function keysPage(main) {
  const msg = h('div');
  const list = h('div');
  const name = h('input', { required: true, maxlength: '100' });
  const days = h('input', { type: 'number', min: '1', max: '3650' });
  const form = h('form', { class: 'card stack' }, h('h2', {}, 'Create an API key'),
    h('div', { class: 'row wrap' }, field('Name', name), field('Expires in days (optional)', days)),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Create key')));
  clear(main, title('Your account'), passwordForm(),
    h('h2', {}, 'API keys'), h('p', { class: 'muted' }, 'Keys act with your role and grants. Send them as Authorization: Bearer ik_… or X-API-Key.'), msg, list, form);
  async function load() {
    try {
      const keys = await api('GET', '/auth/api-keys');
      clear(list, keys.length ? table('API keys', ['Name', 'Prefix', 'Expires', 'Last used', 'Actions'], keys.map((k) => h('tr', {},
        h('td', {}, k.name), h('td', {}, h('code', {}, k.prefix)), h('td', {}, k.expires_at ? fmtDate(k.expires_at) : 'never'),
        h('td', {}, k.last_used_at ? fmtDate(k.last_used_at) : 'never'),
        h('td', {}, k.revoked ? 'revoked' : h('button', { type: 'button', class: 'danger', onclick: async () => {
          try { await api('DELETE', `/auth/api-keys/${k.id}`); clear(msg, notice(`Revoked ${k.name}.`)); load(); } catch (e) { clear(msg, errorBox(e)); }
        } }, 'Revoke'))))) : h('p', {}, 'You have no API keys.'));
    } catch (e) { clear(list, errorBox(e)); }
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { name: name.value.trim() };
    if (days.value) body.expires_in_days = Number(days.value);
    try {
      const r = await api('POST', '/auth/api-keys', body);
      clear(msg, h('div', { class: 'alert ok', role: 'status' }, h('p', {}, 'Your new key, shown only this once:'), h('code', { class: 'secret' }, r.key)));
      name.value = ''; days.value = '';
      load();
    } catch (e) { clear(msg, errorBox(e)); }
  });
  load();
}
