// The UI's entry point: the router (paths under /ui), the navigation by role,
// and the session check. Pages live in pages.js and admin.js.

import { h, clear } from './dom.js';
import { api, session, logout, onSignedOut } from './api.js';
import { can, loginPage, askPage, historyPage, historyItemPage, trainingPage, notAllowedPage, notFoundPage, errorBox } from './pages.js';
import { dashboardPage, usersPage, connectionsPage, operationsPage, auditPage, keysPage } from './admin.js';
import { savedPage, dashboardsPage, boardPage, sharedPage, uploadsPage } from './saved.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');

// path → [page, who may see it]
const ROUTES = [
  [/^\/ui\/ask$/, askPage, () => true],
  [/^\/ui\/history$/, historyPage, () => true],
  [/^\/ui\/history\/([^/]+)$/, historyItemPage, () => true],
  [/^\/ui\/saved$/, savedPage, () => true],
  [/^\/ui\/dashboards$/, dashboardsPage, () => true],
  [/^\/ui\/dashboards\/([^/]+)$/, boardPage, () => true],
  [/^\/ui\/shared\/([^/]+)$/, sharedPage, () => true],
  [/^\/ui\/uploads$/, uploadsPage, can.analyst],
  [/^\/ui\/training$/, trainingPage, can.analyst],
  [/^\/ui\/keys$/, keysPage, () => true],
  [/^\/ui\/admin$/, dashboardPage, can.admin],
  [/^\/ui\/admin\/users$/, usersPage, can.admin],
  [/^\/ui\/admin\/connections$/, connectionsPage, can.admin],
  [/^\/ui\/admin\/operations$/, operationsPage, can.admin],
  [/^\/ui\/admin\/audit$/, auditPage, can.admin],
];

function renderNav(me) {
  if (!me) { clear(nav); return; }
  const links = [['/ui/ask', 'Ask'], ['/ui/history', 'History'], ['/ui/saved', 'Saved'], ['/ui/dashboards', 'Dashboards']];
  if (can.analyst(me)) links.push(['/ui/uploads', 'Your data'], ['/ui/training', 'Training']);
  if (can.admin(me)) links.push(['/ui/admin', 'Admin']);
  links.push(['/ui/keys', 'Account']);
  const path = location.pathname;
  clear(nav,
    h('ul', {}, links.map(([href, label]) => h('li', {}, h('a', { href, 'aria-current': path === href || (href !== '/ui/ask' && path.startsWith(`${href}/`)) ? 'page' : null }, label)))),
    h('span', { class: 'who' }, `${me.username} (${me.role})`),
    h('button', { type: 'button', class: 'link', onclick: async () => { await logout(); navigate('/ui/login'); } }, 'Sign out'));
}

export async function navigate(path, replace = false) {
  if (replace) history.replaceState(null, '', path); else history.pushState(null, '', path);
  await route();
}

async function currentUser() {
  const s = session.get();
  if (!s || !s.access_token) return null;
  if (s.me) return s.me;
  const me = await api('GET', '/auth/me');
  session.set({ ...session.get(), me });
  return me;
}

async function route() {
  let path = location.pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/ui') { history.replaceState(null, '', '/ui/ask'); path = '/ui/ask'; }
  let me = null;
  try { me = await currentUser(); } catch (e) {
    if (session.get()) { clear(main, errorBox(e)); return; }
  }
  const ctx = { me, navigate };
  if (!me) {
    renderNav(null);
    if (path !== '/ui/login') { ctx.next = path + location.search; history.replaceState(null, '', '/ui/login'); }
    loginPage(main, ctx);
    return;
  }
  if (path === '/ui/login') { history.replaceState(null, '', '/ui/ask'); path = '/ui/ask'; }
  renderNav(me);
  for (const [re, page, allowed] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    if (!allowed(me)) { notAllowedPage(main, ctx); return; }
    await page(main, ctx, ...m.slice(1).map(decodeURIComponent));
    return;
  }
  notFoundPage(main, ctx);
}

// Same-origin links navigate inside the app.
document.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download') || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/ui')) return;
  if (url.hash && url.pathname === location.pathname) return;
  ev.preventDefault();
  navigate(url.pathname + url.search).then(() => main.focus());
});
window.addEventListener('popstate', route);
onSignedOut.add(() => { session.clear(); navigate('/ui/login', true); });
route();
