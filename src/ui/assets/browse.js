// The Ask page's helpers: the schema browser (GET /connections/{id}/schema,
// sample values from GET /connections/{id}/samples/{table} under the
// caller's grant), starter questions, and the confidence badge with the
// assumptions beside an answer.

import { h, clear, announce } from './dom.js';
import { api } from './api.js';

/** A list of questions as buttons that ask them. */
export function questionChips(questions, ask, { title, id, testid }) {
  if (!questions || !questions.length) return null;
  return h('section', { class: 'panel', 'aria-labelledby': id, 'data-testid': testid },
    h('h2', { id }, title),
    h('ul', { class: 'chips' }, questions.map((q) => h('li', {}, h('button', { type: 'button', onclick: () => ask(q) }, q)))));
}

function keyText(c) {
  const parts = [];
  if (c.primary_key) parts.push('primary key');
  if (c.references) parts.push(`→ ${c.references}`);
  return parts.join(', ');
}

/** One table: its columns (type, keys, comment), documentation, and sample values on request. */
function tableDetails(connection, t, errorBox) {
  const samples = h('div', { class: 'samples' });
  const cells = new Map();
  const load = h('button', { type: 'button', onclick: async () => {
    load.disabled = true;
    try {
      const r = await api('GET', `/connections/${encodeURIComponent(connection)}/samples/${encodeURIComponent(t.name)}`);
      for (const c of r.columns) {
        const td = cells.get(c.name);
        if (td) clear(td, c.values.length ? c.values.join(', ') : h('span', { class: 'muted' }, '(none)'));
      }
      clear(samples, h('p', { class: 'muted small', role: 'status' }, `Sample values from ${r.row_count} row${r.row_count === 1 ? '' : 's'}.`));
      load.remove();
      announce(`Sample values of ${t.name} shown`);
    } catch (e) { clear(samples, errorBox(e)); load.disabled = false; }
  } }, 'Show sample values');
  const rows = t.columns.map((c) => {
    const td = h('td', { class: 'sample' });
    cells.set(c.name, td);
    return h('tr', {},
      h('th', { scope: 'row' }, c.name),
      h('td', {}, h('code', {}, c.type || '')),
      h('td', {}, keyText(c)),
      h('td', {}, c.comment || ''),
      td);
  });
  const count = t.row_count === null || t.row_count === undefined ? '' : ` · ${t.row_count.toLocaleString('en')} rows`;
  return h('details', { class: 'table-info', 'data-table': t.name },
    h('summary', {}, h('strong', {}, t.name), h('span', { class: 'muted small' }, `${t.is_view ? ' (view)' : ''} · ${t.columns.length} columns${count}`)),
    t.comment ? h('p', {}, t.comment) : null,
    t.documentation.length ? h('ul', { class: 'docs' }, t.documentation.map((d) => h('li', {}, d))) : null,
    h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': `Columns of ${t.name}` },
      h('table', {}, h('caption', { class: 'visually-hidden' }, `Columns of ${t.name}`),
        h('thead', {}, h('tr', {}, ['Column', 'Type', 'Key', 'Comment', 'Sample values'].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, rows))),
    h('div', { class: 'row' }, load), samples);
}

/**
 * Fill `starters` and `browser` for `connection`: the starter questions
 * (asked through `ask`) and the tables the caller may see.
 */
export async function loadSchema(connection, { starters, browser, ask, errorBox }) {
  clear(starters); clear(browser);
  if (!connection) return;
  let s;
  try { s = await api('GET', `/connections/${encodeURIComponent(connection)}/schema`); } catch (e) { clear(browser, errorBox(e)); return; }
  clear(starters, questionChips(s.starter_questions, ask, { title: 'Try asking', id: 'starters-title', testid: 'starters' }));
  clear(browser, h('section', { class: 'panel schema-browser', 'aria-labelledby': 'schema-title', 'data-testid': 'schema-browser' },
    h('h2', { id: 'schema-title' }, `Tables in ${s.connection}`),
    s.tables.length ? s.tables.map((t) => tableDetails(s.connection, t, errorBox)) : h('p', {}, 'No table is available to you here.')));
}

const CONFIDENCE_TEXT = {
  high: 'High confidence: every part of the question was understood.',
  medium: 'Medium confidence: check the assumptions below.',
  low: 'Low confidence: this answer may well be wrong; check it.',
};

/**
 * The confidence badge (text, not colour only), the assumptions, and a
 * "That's wrong" button that opens the correction form (`onWrong`).
 */
export function trustPanel(answer, onWrong) {
  const level = answer.confidence;
  if (!level) return null;
  const assumptions = answer.assumptions || [];
  return h('section', { class: `trust trust-${level}`, 'aria-label': 'How sure this answer is', 'data-testid': 'trust' },
    h('div', { class: 'row' },
      h('span', { class: `badge confidence ${level}`, 'data-testid': 'confidence' }, `Confidence: ${level}`),
      h('span', { class: 'muted small' }, CONFIDENCE_TEXT[level] || ''),
      h('span', { class: 'grow' }),
      onWrong ? h('button', { type: 'button', class: 'danger', 'data-testid': 'thats-wrong', onclick: onWrong }, 'That’s wrong') : null),
    assumptions.length ? h('div', {},
      h('h3', { class: 'small' }, 'Assumptions'),
      h('ul', { class: 'assumptions', 'data-testid': 'assumptions' }, assumptions.map((a) => h('li', { 'data-code': a.code }, a.message)))) : null);
}
