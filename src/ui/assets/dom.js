// Small DOM helpers: every element is built with createElement and text is
// set with textContent, so nothing from the API is ever parsed as HTML.

/** h('button', {class: 'x', onclick: fn}, 'text', child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Parse server-rendered SVG (escaped by the server) into a node, never as HTML. */
export function svgNode(text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = doc.documentElement;
  if (root.nodeName !== 'svg') return null;
  // Defence in depth: drop anything that could run code.
  root.querySelectorAll('script, foreignObject').forEach((n) => n.remove());
  return document.importNode(root, true);
}

/** Tell screen readers about a change. */
export function announce(text) {
  const el = document.getElementById('announce');
  if (el) { el.textContent = ''; setTimeout(() => { el.textContent = text; }, 30); }
}

export function fmtNumber(n) {
  if (typeof n !== 'number') return n === null || n === undefined ? '' : String(n);
  return n.toLocaleString('en', { maximumFractionDigits: 2 });
}

export function fmtDate(s) {
  if (!s) return '';
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString();
}

let uid = 0;
export const nextId = (p = 'f') => `${p}-${++uid}`;

/** A labelled form field. */
export function field(label, control, hint) {
  const id = control.id || (control.id = nextId());
  const hintEl = hint ? h('small', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

/** SQL with keywords, strings and numbers marked up for highlighting. */
const KEYWORDS = new Set(('select from where group by order having limit offset join left right inner outer full cross on as and or not in is null like between case when then else end distinct union all with asc desc count sum avg min max cast exists over partition').split(' '));
export function highlightSql(sql) {
  const out = [];
  const re = /('(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\b\d+(?:\.\d+)?\b|\b[A-Za-z_][A-Za-z0-9_]*\b|\s+|.)/g;
  let m;
  while ((m = re.exec(sql)) !== null) {
    const t = m[0];
    let cls = null;
    if (t.startsWith("'")) cls = 'tok-str';
    else if (t.startsWith('--')) cls = 'tok-com';
    else if (/^\d/.test(t)) cls = 'tok-num';
    else if (KEYWORDS.has(t.toLowerCase())) cls = 'tok-kw';
    out.push(cls ? h('span', { class: cls }, t) : t);
  }
  return out;
}
