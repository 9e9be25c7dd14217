// Saved questions, dashboards, share links and CSV/XLSX uploads. Rows always come
// from the API run under the signed-in user's own grant: a tile the grant
// does not cover arrives as `refused`, without rows, and is shown as such.

import { h, clear, svgNode, announce, fmtDate, field } from './dom.js';
import { api, chartSvg, session, ApiFailure } from './api.js';
import { can, errorBox, notice, resultTable } from './pages.js';

const CHART_TYPES = [['auto', 'Automatic'], ['bar', 'Bar'], ['line', 'Line'], ['table', 'Table only']];

function head(text, ...rest) {
  document.title = `${text} · Insight Engine`;
  return h('div', { class: 'page-head' }, h('h1', {}, text), ...rest);
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function fileName(title, ext) {
  return `${(title || 'chart').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'chart'}.${ext}`;
}

/** The server's SVG drawn onto a canvas (white background), as a PNG blob. */
function pngOf(svgText) {
  return new Promise((resolve, reject) => {
    const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
    const root = doc.documentElement;
    const [, , w, hgt] = (root.getAttribute('viewBox') || '0 0 640 320').split(/\s+/).map(Number);
    root.setAttribute('width', String(w * 2));
    root.setAttribute('height', String(hgt * 2));
    const blob = new Blob([new XMLSerializer().serializeToString(root)], { type: 'image/svg+xml' });
    const url = URL.createObjectURL(blob);
    const img = new Image();
    img.onload = () => {
      const canvas = h('canvas', { width: w * 2, height: hgt * 2 });
      const g = canvas.getContext('2d');
      g.fillStyle = '#ffffff';
      g.fillRect(0, 0, canvas.width, canvas.height);
      g.drawImage(img, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(url);
      canvas.toBlob((png) => (png ? resolve(png) : reject(new Error('no PNG'))), 'image/png');
    };
    img.onerror = () => { URL.revokeObjectURL(url); reject(new Error('the chart could not be drawn')); };
    img.src = url;
  });
}

/** A chart from a spec with SVG and PNG download buttons. */
function chartWithDownloads(spec, title) {
  const box = h('figure', { class: 'chart-box', 'aria-busy': 'true' }, h('figcaption', {}, `Chart: ${title}`), h('p', { class: 'muted' }, 'Drawing…'));
  chartSvg({ spec }).then((svg) => {
    box.removeAttribute('aria-busy');
    const node = svg ? svgNode(svg) : null;
    if (!node) { clear(box, h('figcaption', {}, `Chart: ${title}`), h('p', { class: 'muted' }, 'No chart fits this result.')); return; }
    const svgButton = h('button', { type: 'button', onclick: () => download(new Blob([svg], { type: 'image/svg+xml' }), fileName(title, 'svg')) }, 'Download SVG');
    const pngButton = h('button', { type: 'button', onclick: async () => {
      try { download(await pngOf(svg), fileName(title, 'png')); } catch { announce('The PNG could not be made in this browser; download the SVG instead.'); }
    } }, 'Download PNG');
    clear(box, h('figcaption', {}, `Chart: ${title}`), node, h('div', { class: 'row' }, svgButton, pngButton));
  }).catch((e) => clear(box, h('figcaption', {}, `Chart: ${title}`), errorBox(e)));
  return box;
}

/** One tile as the API ran it for this user: rows and chart, or why not. */
export function tileView(tile, extra = null) {
  const id = `tile-${tile.saved_id}`;
  const parts = [h('div', { class: 'toolbar' }, h('h2', { id }, tile.title), h('span', { class: 'grow' }), extra)];
  if (tile.status === 'refused') {
    parts.push(h('div', { class: 'alert warn', role: 'status', 'data-testid': 'tile-refused' }, tile.error ? tile.error.message : 'Your access does not cover this answer.'));
  } else if (tile.status === 'failed') {
    parts.push(h('div', { class: 'alert error', role: 'status', 'data-testid': 'tile-failed' }, tile.error ? tile.error.message : 'This answer could not be refreshed.'));
  } else {
    if (tile.question) parts.push(h('p', { class: 'muted' }, tile.question));
    parts.push(h('div', { class: 'grid2' },
      h('div', {}, resultTable(tile.columns, tile.rows, { truncated: tile.truncated, caption: `${tile.title} rows` })),
      h('div', {}, tile.chart ? chartWithDownloads(tile.chart, tile.title) : h('p', { class: 'muted' }, tile.chart_type === 'table' ? 'Shown as a table.' : 'No chart fits this result.'))));
  }
  return h('section', { class: 'panel tile', 'aria-labelledby': id, 'data-testid': 'tile' }, ...parts);
}

function shareBox(link) {
  const url = new URL(link.url, location.origin).href;
  const input = h('input', { type: 'text', readonly: true, value: url, 'data-testid': 'share-url' });
  return h('div', { class: 'share' }, field('Share link (for signed-in users; each sees rows under their own access)', input));
}

// ---------------------------------------------------------------- save from an answer

/** "Keep this answer": a title and a Save button under an answer. */
export function savePanel(answer) {
  const titleInput = h('input', { type: 'text', maxlength: '200', value: answer.question || '' });
  const msg = h('div');
  const button = h('button', { type: 'submit' }, 'Save');
  const form = h('form', { class: 'row save' }, field('Title', titleInput), button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    try {
      await api('POST', '/saved', { query_id: answer.query_id, title: titleInput.value.trim() || undefined });
      clear(msg, h('div', { class: 'alert ok', role: 'status' }, 'Saved. ', h('a', { href: '/ui/saved' }, 'See your saved questions')));
      announce('Answer saved');
    } catch (e) { clear(msg, errorBox(e)); }
    button.disabled = false;
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'save-title' }, h('h2', { id: 'save-title' }, 'Keep this answer'), form, msg);
}

// ---------------------------------------------------------------- saved questions

function savedItem(item, refresh) {
  const out = h('div');
  const shared = h('div');
  const chart = h('select', { 'aria-label': `Chart type of ${item.title}` }, CHART_TYPES.map(([v, label]) => h('option', { value: v, selected: v === item.chart }, label)));
  const run = async () => {
    clear(out, h('p', { class: 'muted' }, 'Running…'));
    try { clear(out, tileView(await api('POST', `/saved/${encodeURIComponent(item.id)}/run`))); } catch (e) { clear(out, errorBox(e)); }
  };
  chart.addEventListener('change', async () => {
    try { await api('PATCH', `/saved/${encodeURIComponent(item.id)}`, { chart: chart.value }); item.chart = chart.value; announce('Chart type changed'); await run(); } catch (e) { clear(out, errorBox(e)); }
  });
  const rename = () => {
    const input = h('input', { type: 'text', maxlength: '200', value: item.title });
    const form = h('form', { class: 'row' }, field('New title', input), h('button', { type: 'submit', class: 'primary' }, 'Rename'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try { await api('PATCH', `/saved/${encodeURIComponent(item.id)}`, { title: input.value }); refresh(); } catch (e) { clear(out, errorBox(e)); }
    });
    clear(out, form);
    input.focus();
  };
  const share = async () => {
    try {
      if (item.share_token) {
        await api('DELETE', `/saved/${encodeURIComponent(item.id)}/share`);
        item.share_token = null; clear(shared, notice('No longer shared: the old link stops working.'));
      } else {
        const link = await api('POST', `/saved/${encodeURIComponent(item.id)}/share`);
        item.share_token = link.token; clear(shared, shareBox(link));
      }
      shareButton.textContent = item.share_token ? 'Stop sharing' : 'Share';
    } catch (e) { clear(shared, errorBox(e)); }
  };
  const remove = async () => {
    if (!window.confirm(`Delete “${item.title}”?`)) return;
    try { await api('DELETE', `/saved/${encodeURIComponent(item.id)}`); announce('Deleted'); refresh(); } catch (e) { clear(out, errorBox(e)); }
  };
  const shareButton = h('button', { type: 'button', onclick: share }, item.share_token ? 'Stop sharing' : 'Share');
  return h('li', { class: 'card saved-item' },
    h('h2', {}, item.title),
    h('p', { class: 'muted small' }, `${item.connection} · saved ${fmtDate(item.created_at)}`),
    h('div', { class: 'row wrap saved-actions' },
      h('button', { type: 'button', class: 'primary', onclick: run }, 'Run'),
      field('Chart', chart),
      h('button', { type: 'button', onclick: rename }, 'Rename'),
      shareButton,
      h('button', { type: 'button', class: 'danger', onclick: remove }, 'Delete')),
    shared, out);
}

export async function savedPage(main) {
  const list = h('ul', { class: 'plain stack' });
  const load = async () => {
    try {
      const page = await api('GET', '/saved?limit=100');
      clear(list, page.items.length ? page.items.map((it) => savedItem(it, load))
        : h('li', {}, 'Nothing saved yet. Ask a question and use “Keep this answer”.'));
    } catch (e) { clear(list, h('li', {}, errorBox(e))); }
  };
  clear(main, head('Saved questions', h('a', { href: '/ui/dashboards' }, 'Dashboards')), list);
  await load();
}

// ---------------------------------------------------------------- dashboards

export async function dashboardsPage(main) {
  const list = h('ul', { class: 'plain stack' });
  const name = h('input', { type: 'text', maxlength: '200', required: true });
  const msg = h('div');
  const form = h('form', { class: 'row' }, field('New dashboard', name), h('button', { type: 'submit', class: 'primary' }, 'Create'));
  const load = async () => {
    try {
      const page = await api('GET', '/dashboards?limit=100');
      clear(list, page.items.length ? page.items.map((d) => h('li', { class: 'card' }, h('a', { href: `/ui/dashboards/${encodeURIComponent(d.id)}` }, d.title), h('span', { class: 'muted small' }, ` · ${fmtDate(d.updated_at)}`)))
        : h('li', {}, 'No dashboards yet.'));
    } catch (e) { clear(list, h('li', {}, errorBox(e))); }
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try { await api('POST', '/dashboards', { title: name.value }); name.value = ''; clear(msg); announce('Dashboard created'); await load(); } catch (e) { clear(msg, errorBox(e)); }
  });
  clear(main, head('Dashboards', h('a', { href: '/ui/saved' }, 'Saved questions')), form, msg, list);
  await load();
}

export async function boardPage(main, ctx, id) {
  const path = `/dashboards/${encodeURIComponent(id)}`;
  const tiles = h('div', { class: 'stack', 'data-testid': 'tiles' });
  const msg = h('div');
  let board;
  const setTiles = async (ids) => {
    try { board = await api('PATCH', path, { tiles: ids }); await refresh(); } catch (e) { clear(msg, errorBox(e)); }
  };
  const refresh = async () => {
    clear(tiles, h('p', { class: 'muted' }, 'Refreshing…'));
    try {
      const view = await api('POST', `${path}/refresh`);
      board = view.dashboard;
      clear(tiles, view.tiles.length ? view.tiles.map((t) => tileView(t,
        h('button', { type: 'button', 'aria-label': `Unpin ${t.title}`, onclick: () => setTiles(board.tiles.filter((x) => x !== t.saved_id)) }, 'Unpin')))
        : h('p', {}, 'Nothing pinned yet: pick a saved question above.'));
      announce('Dashboard refreshed');
    } catch (e) { clear(tiles, errorBox(e)); }
  };
  try { board = await api('GET', path); } catch (e) { clear(main, head('Dashboard'), errorBox(e)); return; }
  const saved = await api('GET', '/saved?limit=100').catch(() => ({ items: [] }));
  const pick = h('select', {}, saved.items.map((s) => h('option', { value: s.id }, s.title)));
  const pin = h('form', { class: 'row' }, field('Saved question', pick), h('button', { type: 'submit' }, 'Pin'));
  pin.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (pick.value && !board.tiles.includes(pick.value)) setTiles([...board.tiles, pick.value]);
  });
  const share = h('button', { type: 'button', onclick: async () => {
    try {
      if (board.share_token) { await api('DELETE', `${path}/share`); board.share_token = null; clear(msg, notice('No longer shared.')); }
      else { const link = await api('POST', `${path}/share`); board.share_token = link.token; clear(msg, shareBox(link)); }
      share.textContent = board.share_token ? 'Stop sharing' : 'Share';
    } catch (e) { clear(msg, errorBox(e)); }
  } }, board.share_token ? 'Stop sharing' : 'Share');
  const remove = h('button', { type: 'button', class: 'danger', onclick: async () => {
    if (!window.confirm(`Delete the dashboard “${board.title}”? Its saved questions stay.`)) return;
    try { await api('DELETE', path); ctx.navigate('/ui/dashboards'); } catch (e) { clear(msg, errorBox(e)); }
  } }, 'Delete');
  clear(main, head(board.title, h('a', { href: '/ui/dashboards' }, 'All dashboards')),
    h('div', { class: 'row wrap' }, h('button', { type: 'button', class: 'primary', onclick: refresh }, 'Refresh'), share, remove),
    saved.items.length ? pin : h('p', { class: 'muted' }, 'Save answers on the Ask page to pin them here.'),
    msg, tiles);
  await refresh();
}

// ---------------------------------------------------------------- share links

export async function sharedPage(main, ctx, token) {
  clear(main, head('Shared answer'), h('p', { class: 'muted' }, 'Loading…'));
  try {
    const view = await api('GET', `/shared/${encodeURIComponent(token)}`);
    clear(main, head(view.title),
      h('p', { class: 'muted' }, 'Fresh rows, run under your own access: parts your access does not cover are not shown.'),
      h('div', { class: 'stack' }, view.tiles.map((t) => tileView(t))));
  } catch (e) { clear(main, head('Shared answer'), errorBox(e)); }
}

// ---------------------------------------------------------------- uploads

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const isWorkbook = (f) => /\.xlsx$/i.test(f.name) || f.type === XLSX_TYPE;

async function postFile(table, file, replace, sheet) {
  const s = session.get();
  const q = new URLSearchParams({ table, replace: replace ? 'true' : 'false' });
  if (sheet && isWorkbook(file)) q.set('sheet', sheet);
  const type = isWorkbook(file) ? XLSX_TYPE : 'text/csv';
  let resp;
  try {
    resp = await fetch(`/api/v1/uploads?${q}`, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${s && s.access_token}` }, body: file });
  } catch { throw new ApiFailure(0, null, null); }
  const data = await resp.json().catch(() => null);
  if (!resp.ok) throw new ApiFailure(resp.status, data, resp.headers.get('x-correlation-id'));
  return data;
}

export async function uploadsPage(main, ctx) {
  const file = h('input', { type: 'file', accept: `.csv,text/csv,.xlsx,${XLSX_TYPE}`, required: true });
  const table = h('input', { type: 'text', maxlength: '63', required: true });
  const sheet = h('input', { type: 'text', maxlength: '100' });
  const replace = h('input', { type: 'checkbox' });
  const msg = h('div');
  const list = h('ul', { class: 'plain stack', 'data-testid': 'uploads' });
  file.addEventListener('change', () => {
    if (file.files[0] && !table.value) table.value = file.files[0].name.replace(/\.[^.]*$/, '');
  });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Upload');
  const form = h('form', { class: 'card stack', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title' }, 'Upload a CSV file or an Excel workbook'),
    field('File', file, 'CSV: a header line, then rows; comma, semicolon or tab separated; UTF-8. Excel (.xlsx): the first non-empty row of the sheet is the header.'),
    field('Table name', table, 'Lower-case letters, digits and _ are kept; other characters become _.'),
    field('Sheet (Excel only)', sheet, 'Leave empty for the first sheet.'),
    h('label', { class: 'check' }, replace, ' Replace a table of this name'),
    button, msg);
  const load = async () => {
    try {
      const tables = await api('GET', '/uploads');
      clear(list, tables.length ? tables.map((t) => h('li', { class: 'card' },
        h('h3', {}, t.table), h('p', { class: 'muted small' }, t.columns.join(', ')),
        h('button', { type: 'button', class: 'danger', onclick: async () => {
          if (!window.confirm(`Delete the table ${t.table}?`)) return;
          try { await api('DELETE', `/uploads/${encodeURIComponent(t.table)}`); announce('Table deleted'); await load(); } catch (e) { clear(msg, errorBox(e)); }
        } }, `Delete ${t.table}`))) : h('li', {}, 'No uploaded tables yet.'));
    } catch (e) { clear(list, h('li', {}, errorBox(e))); }
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!file.files[0]) return;
    button.disabled = true;
    clear(msg, h('p', { class: 'muted' }, 'Uploading…'));
    try {
      const r = await postFile(table.value.trim(), file.files[0], replace.checked, sheet.value.trim());
      clear(msg, notice(`Table ${r.table} ${r.replaced ? 'replaced' : 'created'}: ${r.row_count} rows, columns ${r.columns.map((c) => `${c.name} (${c.type})`).join(', ')}. Ask about it with the “uploads” database.`));
      announce('Upload finished');
      await load();
    } catch (e) { clear(msg, errorBox(e)); }
    button.disabled = false;
  });
  clear(main, head('Your data'),
    h('p', {}, 'CSV files and Excel workbooks become tables of the ', h('code', {}, 'uploads'), ' database: ask questions about them on the Ask page. Who sees them follows the access grants.'),
    can.analyst(ctx.me) ? form : null,
    h('h2', {}, 'Uploaded tables'), list);
  await load();
}
