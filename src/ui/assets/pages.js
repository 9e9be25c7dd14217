// The pages everyone uses: sign in, ask, history, training, "not allowed".
// Each page is a function (main, ctx) that renders into <main>.

import { h, clear, svgNode, announce, fmtNumber, fmtDate, field, highlightSql, nextId } from './dom.js';
import { api, login, askStream, chartSvg, ApiFailure } from './api.js';
import { savePanel } from './saved.js';
import { loadSchema, questionChips, trustPanel } from './browse.js';

export const can = {
  analyst: (me) => me && (me.role === 'analyst' || me.role === 'admin'),
  admin: (me) => me && me.role === 'admin',
};

/** An API error as a sentence, with the correlation id to report. */
export function errorBox(e) {
  const f = e instanceof ApiFailure ? e : new ApiFailure(0, null, null);
  return h('div', { class: 'alert error', role: 'alert' },
    h('p', {}, f.human()),
    // A question the database cannot answer is an ordinary refusal, not a
    // fault to report.
    f.correlationId && f.code !== 'unanswerable' ? h('p', { class: 'ref' }, 'If this persists, report reference ', h('code', {}, f.correlationId), '.') : null);
}

export function notice(text, kind = 'ok') {
  return h('div', { class: `alert ${kind}`, role: 'status' }, text);
}

function title(main, text, ...rest) {
  document.title = `${text} · Insight Engine`;
  return h('div', { class: 'page-head' }, h('h1', {}, text), ...rest);
}

// ---------------------------------------------------------------- sign in

export function loginPage(main, ctx) {
  const user = h('input', { name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('div', { class: 'msg' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in'),
    h('p', { class: 'muted' }, 'Ask your databases questions in plain language.'),
    field('Username', user), field('Password', pass), msg, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    clear(msg);
    try {
      await login(user.value.trim(), pass.value);
      ctx.navigate(ctx.next || '/ui/ask');
    } catch (e) {
      clear(msg, errorBox(e));
      pass.value = '';
      pass.focus();
    } finally {
      button.disabled = false;
    }
  });
  document.title = 'Sign in · Insight Engine';
  clear(main, h('div', { class: 'center' }, form));
  user.focus();
}

export function notAllowedPage(main) {
  clear(main, title(main, 'Not allowed'),
    h('div', { class: 'alert error', role: 'alert' },
      h('p', {}, 'You are not allowed to see this page: your role does not include it.'),
      h('p', {}, 'Ask an administrator if you need access. ', h('a', { href: '/ui/ask' }, 'Back to Ask'))));
}

export function notFoundPage(main) {
  clear(main, title(main, 'Page not found'), h('p', {}, 'There is no such page. ', h('a', { href: '/ui/ask' }, 'Go to Ask')));
}

// ---------------------------------------------------------------- results

const PAGE_SIZE = 25;

function cellText(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return fmtNumber(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function csvOf(columns, rows) {
  const esc = (v) => {
    const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.map((c) => esc(c.name)).join(','), ...rows.map((r) => r.map(esc).join(','))].join('\r\n') + '\r\n';
}

/**
 * The column a chart spec puts on a time axis, so the table can start in
 * the chart's order (a monthly count reads by month, not by count); -1: none.
 */
export function timeColumn(spec, columns) {
  const x = spec && spec.encoding && spec.encoding.x;
  if (!x || x.type !== 'temporal') return -1;
  return columns.findIndex((c) => c.name === x.field);
}

/** A sortable, paged table of a result, with CSV download of every row. */
export function resultTable(columns, rows, { truncated = false, caption = 'Result', sortBy = -1 } = {}) {
  let order = rows.map((_, i) => i);
  let sortCol = -1;
  let dir = 1;
  let page = 0;
  const wrap = h('section', { class: 'result', 'aria-label': caption });
  const compare = (a, b) => {
    if (a === b) return 0;
    if (a === null || a === undefined) return 1;
    if (b === null || b === undefined) return -1;
    const na = Number(a); const nb = Number(b);
    if (!isNaN(na) && !isNaN(nb) && a !== '' && b !== '') return na - nb;
    return String(a).localeCompare(String(b));
  };
  if (sortBy >= 0) {
    sortCol = sortBy;
    order.sort((x, y) => compare(rows[x][sortBy], rows[y][sortBy]));
  }
  function render() {
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    const head = h('tr', {}, columns.map((c, i) => {
      const sorted = i === sortCol ? (dir > 0 ? 'ascending' : 'descending') : 'none';
      return h('th', { scope: 'col', 'aria-sort': sorted },
        h('button', { type: 'button', class: 'sort', onclick: () => {
          if (sortCol === i) dir = -dir; else { sortCol = i; dir = 1; }
          order = rows.map((_, k) => k).sort((x, y) => dir * compare(rows[x][i], rows[y][i]));
          page = 0;
          render();
          announce(`Sorted by ${c.name}, ${dir > 0 ? 'ascending' : 'descending'}`);
          wrap.querySelector(`th:nth-child(${i + 1}) button`).focus();
        } }, c.name, h('span', { class: 'arrow', 'aria-hidden': 'true' }, i === sortCol ? (dir > 0 ? ' ▲' : ' ▼') : '')));
    }));
    const slice = order.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    const body = slice.map((ri) => h('tr', {}, rows[ri].map((v) => h('td', { class: typeof v === 'number' ? 'num' : null }, cellText(v)))));
    const download = h('button', { type: 'button', onclick: () => {
      const url = URL.createObjectURL(new Blob([csvOf(columns, rows)], { type: 'text/csv' }));
      const a = h('a', { href: url, download: 'result.csv' });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } }, 'Download CSV');
    const pager = pages > 1 ? h('div', { class: 'pager' },
      h('button', { type: 'button', disabled: page === 0, onclick: () => { page--; render(); } }, 'Previous'),
      h('span', {}, `Page ${page + 1} of ${pages}`),
      h('button', { type: 'button', disabled: page >= pages - 1, onclick: () => { page++; render(); } }, 'Next')) : null;
    clear(wrap,
      h('div', { class: 'toolbar' },
        h('span', { class: 'muted' }, `${fmtNumber(rows.length)} row${rows.length === 1 ? '' : 's'}${truncated ? ' (limit reached, more exist)' : ''}`),
        download),
      rows.length ? h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': `${caption} table` },
        h('table', {}, h('caption', { class: 'visually-hidden' }, caption), h('thead', {}, head), h('tbody', {}, body))) : h('p', {}, 'No rows.'),
      pager);
  }
  render();
  return wrap;
}

/** A chart drawn by the server, from a spec or from the rows. */
export function chartPanel(body, label = 'Chart') {
  const box = h('figure', { class: 'chart-box', 'aria-busy': 'true' }, h('figcaption', {}, label), h('p', { class: 'muted' }, 'Drawing…'));
  // Drawn for the width it is shown at (once the box is on the page), so
  // its text stays readable on a phone.
  setTimeout(() => {
    const inner = box.getBoundingClientRect().width - 42;
    chartSvg({ ...body, width: inner > 0 ? Math.round(inner) : undefined }).then((svg) => {
      box.removeAttribute('aria-busy');
      const node = svg ? svgNode(svg) : null;
      clear(box, h('figcaption', {}, label), node || h('p', { class: 'muted' }, 'No chart fits this result.'));
    }).catch((e) => clear(box, h('figcaption', {}, label), errorBox(e)));
  }, 0);
  return box;
}

function sqlBlock(sql) {
  return h('pre', { class: 'sql', tabindex: '0', 'aria-label': 'SQL' }, h('code', {}, highlightSql(sql || '')));
}

/** Copyable SQL; analysts can edit and re-run it. */
function sqlPanel(answer, ctx, onRows) {
  const panel = h('section', { class: 'panel', 'aria-labelledby': 'sql-title' });
  const copy = h('button', { type: 'button', onclick: async () => {
    try { await navigator.clipboard.writeText(answer.sql); announce('SQL copied'); copy.textContent = 'Copied'; } catch { announce('Copy is not available here; select the SQL instead.'); }
  } }, 'Copy SQL');
  const edit = can.analyst(ctx.me) ? h('button', { type: 'button', onclick: () => editMode() }, 'Edit and run') : null;
  const out = h('div');
  // The SQL in plain words (POST /sql/explain, under the caller's grant).
  const explain = h('button', { type: 'button', 'aria-expanded': 'false', onclick: async () => {
    if (explain.getAttribute('aria-expanded') === 'true') { clear(out); explain.setAttribute('aria-expanded', 'false'); return; }
    explain.disabled = true;
    try {
      const r = await api('POST', '/sql/explain', { sql: answer.sql, connection: answer.connection });
      clear(out, h('div', { class: 'explain', role: 'status' },
        h('h3', {}, 'What this SQL does'),
        r.source === 'llm' ? h('p', {}, r.explanation) : h('ul', {}, r.steps.map((s) => h('li', {}, s)))));
      explain.setAttribute('aria-expanded', 'true');
    } catch (e) { clear(out, errorBox(e)); }
    explain.disabled = false;
  } }, 'Explain');
  function view() {
    clear(panel, h('div', { class: 'toolbar' }, h('h2', { id: 'sql-title' }, 'SQL'), h('span', { class: 'grow' }), explain, copy, edit), sqlBlock(answer.sql), out);
  }
  function editMode() {
    const ta = h('textarea', { rows: 6, spellcheck: 'false', class: 'code', value: answer.sql });
    const run = h('button', { type: 'submit', class: 'primary' }, 'Run SQL');
    const form = h('form', {}, field('Edit the SQL', ta, 'It is checked by the same safety rules before it runs.'),
      h('div', { class: 'row' }, run, h('button', { type: 'button', onclick: () => view() }, 'Cancel')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      run.disabled = true;
      clear(out);
      try {
        const r = await api('POST', '/sql/execute', { sql: ta.value, connection: answer.connection });
        answer.sql = r.sql;
        view();
        onRows(r);
        announce(`The edited SQL returned ${r.row_count} rows`);
      } catch (e) {
        // A failing SQL can be handed to the correction loop (POST /sql/fix).
        const fix = h('button', { type: 'button', onclick: async () => {
          fix.disabled = true;
          try {
            const r = await api('POST', '/sql/fix', { sql: ta.value, question: answer.question, connection: answer.connection });
            ta.value = r.sql;
            clear(out, notice(r.fixed ? 'Corrected SQL below: check it, then run it.' : 'This SQL runs as it is.'));
            announce('Corrected SQL ready');
          } catch (e2) { clear(out, errorBox(e2)); }
        } }, 'Fix it');
        clear(out, errorBox(e), e.code === 'sql_rejected' || e.code === 'query_failed' ? fix : null);
        run.disabled = false;
      }
    });
    clear(panel, h('div', { class: 'toolbar' }, h('h2', { id: 'sql-title' }, 'SQL')), form, out);
    ta.focus();
  }
  view();
  return panel;
}

/** The "Was this right?" panel; `openCorrection` opens its correction form. */
function feedbackPanel(answer) {
  const box = h('section', { class: 'panel', 'aria-labelledby': 'fb-title' });
  const msg = h('div');
  const send = async (body) => {
    clear(msg);
    try {
      const r = await api('POST', `/queries/${encodeURIComponent(answer.query_id)}/feedback`, body);
      const st = r.feedback.status;
      const text = st === 'trained' ? 'Thanks! This is now a training example: similar questions will be answered this way.'
        : st === 'pending' ? 'Thanks! Your feedback waits for an analyst to approve it.'
          : 'Thanks, your feedback was recorded.';
      clear(msg, notice(text));
      announce(text);
    } catch (e) { clear(msg, errorBox(e)); }
  };
  const down = () => {
    const ta = h('textarea', { rows: 5, spellcheck: 'false', class: 'code', value: answer.sql || '' });
    const comment = h('input', { type: 'text', maxlength: '500' });
    const form = h('form', { class: 'stack' },
      field('Corrected SQL (optional)', ta, 'If you know the right SQL, put it here: it is checked, run, and learned from.'),
      field('Comment (optional)', comment),
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Send feedback')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const sql = ta.value.trim();
      send({ rating: 'down', corrected_sql: sql && sql !== (answer.sql || '').trim() ? sql : undefined, comment: comment.value.trim() || undefined });
    });
    clear(msg, form);
    ta.focus();
    box.scrollIntoView({ block: 'nearest' });
  };
  clear(box, h('h2', { id: 'fb-title' }, 'Was this right?'),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'thumb up', 'aria-label': 'Yes, this answer is right', onclick: () => send({ rating: 'up' }) }, h('span', { class: 'icon', 'aria-hidden': 'true' }), 'Yes'),
      h('button', { type: 'button', class: 'thumb down', 'aria-label': 'No, this answer is wrong', onclick: down }, h('span', { class: 'icon', 'aria-hidden': 'true' }), 'No')),
    msg);
  return { box, openCorrection: down };
}

/** Warnings worth telling people about: a summary that is off is a server setting, not a problem. */
function answerWarnings(answer) {
  const shown = (answer.warnings || []).filter((w) => w.code !== 'summary_disabled');
  return shown.length ? h('div', { class: 'alert warn', role: 'status', 'data-testid': 'answer-warnings' },
    shown.map((w) => h('p', {}, w.message))) : null;
}

/**
 * An answer: its SQL, rows, chart, the summary and the suggested next
 * questions the API sent (asked through `askAgain`), and feedback.
 */
function answerView(answer, ctx, askAgain) {
  const rowsBox = h('div');
  const chartBox = h('div');
  const table = (r, spec) => resultTable(r.columns, r.rows, { truncated: r.truncated, caption: 'Result rows', sortBy: timeColumn(spec, r.columns) });
  const showRows = (r) => {
    clear(rowsBox, table(r, r.chart || answer.chart));
    clear(chartBox, r.chart !== undefined && r.chart !== null ? chartPanel({ spec: r.chart }) : chartPanel({ columns: r.columns, rows: r.rows }));
  };
  const meta = [
    // The generator's internal strategy names are not for people; only
    // "from a trained example" tells them something.
    answer.strategy === 'trained_example' ? 'answered from a trained example' : answer.strategy === 'adapted_example' ? 'adapted from a trained example' : null,
    answer.cached ? 'cached' : null,
    answer.timings_ms && answer.timings_ms.total !== undefined ? `${answer.timings_ms.total} ms` : null,
  ].filter(Boolean).join(' · ');
  const summary = answer.summary ? h('section', { class: 'panel', 'aria-labelledby': 'summary-title', 'data-testid': 'summary' },
    h('h2', { id: 'summary-title' }, 'Summary'),
    h('p', { class: 'summary-text' }, answer.summary),
    h('p', { class: 'muted small' }, answer.summary_source === 'llm'
      ? 'Written by the language model from the first rows of the result; check it against the table.'
      : 'Read off the rows of the result.')) : null;
  // Edited SQL gives other rows: the summary no longer describes them.
  const onEditedRows = (r) => { showRows(r); if (summary) summary.remove(); };
  const suggestions = answer.followups || [];
  const feedback = answer.query_id ? feedbackPanel(answer) : null;
  const view = h('article', { class: 'answer', 'aria-labelledby': 'answer-title' },
    h('h2', { id: 'answer-title', tabindex: '-1' }, answer.question),
    answer.standalone_question ? h('p', { class: 'muted', 'data-testid': 'standalone-question' }, 'Answered as: ', h('q', {}, answer.standalone_question)) : null,
    meta ? h('p', { class: 'muted', 'data-testid': 'answer-meta' }, meta) : null,
    trustPanel(answer, feedback ? feedback.openCorrection : null),
    answerWarnings(answer),
    summary,
    sqlPanel(answer, ctx, onEditedRows),
    h('div', { class: 'grid2' }, h('div', {}, rowsBox), h('div', {}, chartBox)),
    suggestions.length ? h('section', { class: 'panel', 'aria-labelledby': 'sugg-title', 'data-testid': 'followups' },
      h('h2', { id: 'sugg-title' }, 'Ask next'),
      h('ul', { class: 'chips' }, suggestions.map((q) => h('li', {}, h('button', { type: 'button', onclick: () => askAgain(q) }, q))))) : null,
    feedback ? feedback.box : null,
    answer.query_id && answer.sql ? savePanel(answer) : null);
  if (answer.rows) {
    clear(rowsBox, table(answer, answer.chart));
    clear(chartBox, answer.chart ? chartPanel({ spec: answer.chart }) : h('p', { class: 'muted' }, 'No chart fits this result.'));
  }
  return { view, showRows };
}

// ---------------------------------------------------------------- ask

const STEPS = [
  ['retrieval', 'Retrieving context'],
  ['sql', 'Generating SQL'],
  ['validation', 'Validating'],
  ['rows', 'Running'],
];

/**
 * The ask page keeps one conversation across its questions: each ask sends
 * the last answer's `conversation_id`, so a follow-up ("and by country?") is
 * understood from the questions before it. "New conversation" (or another
 * database) starts afresh.
 */
export async function askPage(main, ctx) {
  const question = h('textarea', { id: 'question', rows: 3, required: true, maxlength: '2000', placeholder: 'e.g. How many customers are there in each country?' });
  const select = h('select', { id: 'connection' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Ask');
  const progress = h('ol', { class: 'steps', 'aria-label': 'Progress' });
  const out = h('div', { id: 'answer' });
  // Starter questions (until the first question) and the schema browser.
  const starters = h('div');
  const browser = h('div');
  const conversationBox = h('div', { class: 'row conversation', 'data-testid': 'conversation' });
  let connections = [];
  let conversation = null; // { id, turns }
  const form = h('form', { class: 'card ask' },
    h('div', { class: 'ask-row' }, field('Question', question), field('Database', select)),
    h('div', { class: 'row' }, button, h('span', { class: 'muted small kbd-hint' }, 'Ctrl+Enter to ask')),
    conversationBox);
  const showConversation = () => {
    if (!conversation) { clear(conversationBox); return; }
    const n = conversation.turns;
    clear(conversationBox,
      h('span', { class: 'muted small' }, `In a conversation (${n} question${n === 1 ? '' : 's'}): follow-up questions build on the earlier ones.`),
      h('button', { type: 'button', onclick: () => newConversation(true) }, 'New conversation'));
  };
  function newConversation(byHand) {
    conversation = null;
    showConversation();
    starters.hidden = false;
    if (byHand) {
      clear(out);
      clear(progress);
      question.value = '';
      question.focus();
      announce('New conversation: the next question starts afresh.');
    }
  }
  const browse = () => loadSchema(select.value, { starters, browser, ask: (q) => run(q), errorBox });
  select.addEventListener('change', () => {
    if (conversation) { newConversation(false); announce('Another database: a new conversation starts.'); }
    browse();
  });
  clear(main, title(main, 'Ask'), form, starters, progress, out, browser);
  try {
    connections = await api('GET', '/connections');
    clear(select, connections.map((c) => h('option', { value: c.id, selected: c.default }, `${c.id}${c.description ? ` — ${c.description}` : ''}`)));
    if (!connections.length) clear(out, notice('No database is available to you yet. Ask an administrator for access.', 'warn'));
    else browse();
  } catch (e) { clear(out, errorBox(e)); }

  const setStep = (name, state) => {
    const li = progress.querySelector(`[data-step="${name}"]`);
    if (li) { li.dataset.state = state; li.querySelector('.state').textContent = state === 'done' ? 'done' : state === 'active' ? 'in progress' : state === 'failed' ? 'failed' : ''; }
  };
  async function run(q) {
    question.value = q;
    button.disabled = true;
    starters.hidden = true;
    clear(out);
    clear(progress, STEPS.map(([k, label]) => h('li', { 'data-step': k, 'data-state': 'waiting' }, label, ' ', h('span', { class: 'state visually-hidden' }, ''))));
    setStep('retrieval', 'active');
    announce('Asking…');
    const next = { retrieval: 'sql', sql: 'validation', validation: 'rows' };
    try {
      const body = { question: q, connection: select.value || undefined, summary: true, followups: true, conversation_id: conversation ? conversation.id : undefined };
      const answer = await askStream(body, (name) => {
        if (next[name] !== undefined || name === 'rows') {
          setStep(name, 'done');
          if (next[name]) setStep(next[name], 'active');
        }
      });
      STEPS.forEach(([k]) => setStep(k, 'done'));
      if (answer.conversation_id) {
        conversation = conversation && conversation.id === answer.conversation_id
          ? { ...conversation, turns: conversation.turns + 1 } : { id: answer.conversation_id, turns: 1 };
      }
      showConversation();
      const { view } = answerView(answer, ctx, run);
      clear(out, view);
      announce(`Answer ready: ${answer.row_count} rows`);
      view.querySelector('#answer-title').focus();
    } catch (e) {
      progress.querySelectorAll('[data-state="active"]').forEach((li) => setStep(li.dataset.step, 'failed'));
      // A refusal offers questions this database can answer.
      const offered = e instanceof ApiFailure && e.details ? e.details.suggestions : null;
      clear(out, errorBox(e), questionChips(offered, run, { title: 'You could ask instead', id: 'offered-title', testid: 'refusal-suggestions' }));
      // Our conversation is gone (history cleanup removes old ones): the
      // next question starts a new one.
      if (conversation && e instanceof ApiFailure && e.code === 'not_found' && /conversation/.test(e.message)) {
        newConversation(false);
        out.append(notice('The next question starts a new conversation.', 'warn'));
      }
    } finally {
      button.disabled = false;
    }
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); if (question.value.trim()) run(question.value.trim()); });
  question.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) form.requestSubmit(); });
  const preset = new URLSearchParams(location.search).get('q');
  if (preset) run(preset); else question.focus();
}

// ---------------------------------------------------------------- history

export async function historyPage(main, ctx) {
  const search = h('input', { type: 'search', placeholder: 'Filter by question, SQL or table' });
  const list = h('div');
  clear(main, title(main, 'History'), field('Search your questions', search), list);
  let items = [];
  try {
    for (let offset = 0; offset < 500; offset += 100) {
      const page = await api('GET', `/queries?limit=100&offset=${offset}`);
      items = items.concat(page.items);
      if (items.length >= page.total || !page.items.length) break;
    }
  } catch (e) { clear(list, errorBox(e)); return; }
  const render = () => {
    const q = search.value.trim().toLowerCase();
    const shown = items.filter((it) => !q || [it.question, it.sql, ...(it.tables || [])].some((s) => s && s.toLowerCase().includes(q)));
    clear(list, shown.length ? h('ul', { class: 'history' }, shown.map((it) => h('li', {},
      h('a', { href: `/ui/history/${encodeURIComponent(it.id)}` }, it.question),
      h('span', { class: `badge ${it.status}` }, it.status),
      h('span', { class: 'muted small' }, `${it.connection} · ${fmtDate(it.created_at)}${it.row_count !== null && it.row_count !== undefined ? ` · ${it.row_count} rows` : ''}`)))) : h('p', {}, items.length ? 'Nothing matches.' : 'You have not asked anything yet.'));
  };
  search.addEventListener('input', render);
  render();
}

export async function historyItemPage(main, ctx, id) {
  clear(main, title(main, 'Answer'), h('p', { class: 'muted' }, 'Loading…'));
  let q;
  try { q = await api('GET', `/queries/${encodeURIComponent(id)}`); } catch (e) { clear(main, title(main, 'Answer'), errorBox(e)); return; }
  const answer = { ...q, rows: null, columns: [], chart: null, query_id: q.id };
  const head = title(main, 'Answer', h('a', { href: '/ui/history' }, '← History'));
  const facts = h('p', { class: 'muted' }, `${q.connection} · ${fmtDate(q.created_at)} · ${q.status}${q.error_message ? ` — ${q.error_message}` : ''}`);
  const fb = q.feedback && q.feedback.length ? h('p', { class: 'muted' }, `Feedback: ${q.feedback.map((f) => `${f.rating === 'up' ? 'right' : 'wrong'} (${f.status})`).join(', ')}`) : null;
  if (!q.sql) { clear(main, head, h('h2', {}, q.question), facts, fb); return; }
  const { view, showRows } = answerView(answer, ctx, (text) => ctx.navigate(`/ui/ask?q=${encodeURIComponent(text)}`));
  const rerun = h('button', { type: 'button', class: 'primary' }, 'Run again to see the rows');
  const status = h('div');
  rerun.addEventListener('click', async () => {
    rerun.disabled = true;
    try { showRows(await api('POST', '/sql/execute', { query_id: q.id })); rerun.remove(); } catch (e) { clear(status, errorBox(e)); rerun.disabled = false; }
  });
  clear(main, head, facts, fb, h('div', { class: 'row rerun' }, rerun), status, view);
}

// ---------------------------------------------------------------- training

export async function trainingPage(main, ctx) {
  const kind = h('select', {}, h('option', { value: '' }, 'All kinds'), ['ddl', 'documentation', 'question_sql'].map((k) => h('option', { value: k }, k)));
  const status = h('select', {}, h('option', { value: '' }, 'Any status'), h('option', { value: 'active' }, 'active'), h('option', { value: 'pending' }, 'pending approval'));
  const q = h('input', { type: 'search' });
  const list = h('div');
  const msg = h('div');
  const filters = h('form', { class: 'filters row', role: 'search' }, field('Search', q), field('Kind', kind), field('Status', status), h('button', { type: 'submit' }, 'Search'));
  // Add form
  const addKind = h('select', {}, h('option', { value: 'question_sql' }, 'Question → SQL'), h('option', { value: 'documentation' }, 'Documentation'), h('option', { value: 'ddl' }, 'DDL'));
  const content = h('textarea', { rows: 3, required: true });
  const sql = h('textarea', { rows: 3, class: 'code', spellcheck: 'false' });
  const sqlField = field('SQL', sql, 'For question → SQL items: the SQL that answers the question.');
  const add = h('form', { class: 'card stack' }, h('h2', {}, 'Add training data'), field('Kind', addKind), field('Content (question, text or DDL)', content), sqlField, h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Add')));
  addKind.addEventListener('change', () => { sqlField.hidden = addKind.value !== 'question_sql'; });
  clear(main, title(main, 'Training'), msg, filters, list, add);

  async function load() {
    const p = new URLSearchParams({ limit: '100' });
    if (kind.value) p.set('kind', kind.value);
    if (status.value) p.set('status', status.value);
    if (q.value.trim()) p.set('q', q.value.trim());
    try {
      const page = await api('GET', `/training?${p}`);
      clear(list, page.items.length ? h('div', { class: 'table-scroll' }, h('table', {},
        h('caption', { class: 'visually-hidden' }, 'Training items'),
        h('thead', {}, h('tr', {}, ['Kind', 'Content', 'Status', 'Connection', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, page.items.map((it) => h('tr', {},
          h('td', {}, it.kind),
          h('td', { class: 'content' }, h('div', { class: 'notes' }, it.content.length > 300 ? `${it.content.slice(0, 300)}…` : it.content), it.sql ? sqlBlock(it.sql) : null),
          h('td', {}, h('span', { class: `badge ${it.status}` }, it.status)),
          h('td', {}, it.connection),
          h('td', { class: 'actions' },
            it.status === 'pending' ? h('button', { type: 'button', onclick: () => act('POST', `/training/${it.id}/approve`, 'Approved.') }, 'Approve') : null,
            h('button', { type: 'button', 'aria-label': `Edit ${it.kind} item`, onclick: (ev) => editItem(it, ev.target.closest('tr')) }, 'Edit'),
            h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${it.kind} item`, onclick: () => { if (confirm('Delete this training item?')) act('DELETE', `/training/${it.id}`, 'Deleted.'); } }, 'Delete'))))))) : h('p', {}, 'No training items match.'),
      h('p', { class: 'muted small' }, `${page.total} item${page.total === 1 ? '' : 's'}`));
    } catch (e) { clear(list, errorBox(e)); }
  }
  // PATCH /training/{id}: checked like a new item; a pending one stays pending.
  function editItem(it, tr) {
    const cell = tr.querySelector('td.content');
    const text = h('textarea', { rows: 4, value: it.content });
    const sqlBox = it.kind === 'question_sql' ? h('textarea', { rows: 4, spellcheck: 'false', class: 'code', value: it.sql || '' }) : null;
    const form = h('form', { class: 'stack' }, field('Edit content', text), sqlBox ? field('Edit SQL', sqlBox) : null,
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Save'), h('button', { type: 'button', onclick: () => load() }, 'Cancel')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = { content: text.value };
      if (sqlBox) body.sql = sqlBox.value;
      try { await api('PATCH', `/training/${it.id}`, body); clear(msg, notice('Saved.')); announce('Saved'); load(); } catch (e) { clear(msg, errorBox(e)); }
    });
    clear(cell, form);
    text.focus();
  }
  async function act(method, path, done) {
    try { await api(method, path); clear(msg, notice(done)); announce(done); load(); } catch (e) { clear(msg, errorBox(e)); }
  }
  filters.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  add.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { kind: addKind.value, content: content.value };
    if (addKind.value === 'question_sql') body.sql = sql.value;
    try {
      const r = await api('POST', '/training', body);
      clear(msg, notice(r.created ? 'Added.' : 'This item already existed.'));
      content.value = ''; sql.value = '';
      load();
    } catch (e) { clear(msg, errorBox(e)); }
  });
  load();
}

export { nextId };
