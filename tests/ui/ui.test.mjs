// Browser tests of the Insight Engine web UI, run by scripts/ui-test against a
// live `insight serve`: real headless Chromium driven by playwright-core, an
// axe-core accessibility check on every page (no serious or critical
// violations), a screenshot of every page in $SCREENSHOTS, and no
// Content-Security-Policy violation anywhere.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { workbook } from './xlsx.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const BASE = process.env.BASE_URL;
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD;
const SHOTS = process.env.SCREENSHOTS;
assert.ok(BASE && ADMIN_PASSWORD && SHOTS, 'BASE_URL, ADMIN_PASSWORD and SCREENSHOTS are required');

const failures = [];
let passed = 0;
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failures.push(name);
    console.log(`FAIL ${name}\n     ${String(e && e.stack || e).split('\n').slice(0, 6).join('\n     ')}`);
  }
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const cspViolations = [];
const pageErrors = [];

async function newPage(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.setDefaultTimeout(20000);
  return page;
}

/** axe-core in the page: fail on serious or critical violations. */
async function accessible(page, name) {
  // Evaluated through the DevTools protocol: the page's CSP (no inline
  // scripts) stays on while axe runs.
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`), [], `accessibility of ${name}`);
}

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

async function check(page, name) {
  await accessible(page, name);
  await shot(page, name);
}

async function signIn(page, username, password) {
  await page.goto(`${BASE}/ui/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The answer in a Server-Sent Events body: the data of its `done` event. */
function doneEvent(text) {
  for (const chunk of text.split('\n\n')) {
    const lines = chunk.split('\n');
    if (!lines.includes('event: done')) continue;
    return JSON.parse(lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n'));
  }
  throw new Error(`no done event in: ${text.slice(0, 300)}`);
}

/**
 * Do `act` (which makes the page ask) and wait for the answer; returns what
 * the page sent to /api/v1/ask/stream and the answer the API gave it.
 */
async function asked(page, act) {
  // The browser keeps no body of a streamed response, so the test passes the
  // stream on itself (whole, once it ends) and keeps a copy.
  const pattern = '**/api/v1/ask/stream';
  let seen;
  const exchange = new Promise((resolve) => { seen = resolve; });
  const relay = async (route) => {
    const resp = await route.fetch();
    const text = await resp.text();
    await route.fulfill({ response: resp, body: text });
    seen({ sent: route.request().postDataJSON(), text });
  };
  await page.route(pattern, relay);
  try {
    await act();
    const { sent, text } = await exchange;
    await page.locator('#answer-title').waitFor();
    return { sent, done: doneEvent(text) };
  } finally {
    await page.unroute(pattern, relay);
  }
}

async function ask(page, question) {
  await page.getByLabel('Question').fill(question);
  return asked(page, () => page.getByRole('button', { name: 'Ask', exact: true }).click());
}

/** The page shows the summary and exactly the follow-ups the API sent, in its order. */
async function showsTheApiExtras(page, done) {
  assert.ok(Array.isArray(done.followups) && done.followups.length > 0, `the API sent follow-ups: ${JSON.stringify(done)}`);
  const chips = await page.getByTestId('followups').getByRole('button').allInnerTexts();
  assert.deepEqual(chips, done.followups);
  assert.ok(done.summary, 'the API sent a summary');
  assert.equal(await page.getByTestId('summary').locator('.summary-text').innerText(), done.summary);
}

const admin = await newPage();

await step('the shell is served with a strict page policy', async () => {
  const resp = await admin.goto(`${BASE}/`);
  assert.equal(resp.status(), 200);
  const csp = resp.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  await admin.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal(new URL(admin.url()).pathname, '/ui/login');
  await check(admin, '01-login');
});

await step('a wrong password gives a clear error with a reference', async () => {
  await signIn(admin, 'admin', 'not-the-password');
  const alert = admin.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), /credentials are wrong|sign in again/i);
  assert.match(await alert.innerText(), /reference/i);
  await check(admin, '02-login-error');
});

await step('the admin signs in and sees every section', async () => {
  await signIn(admin, 'admin', ADMIN_PASSWORD);
  await admin.getByRole('heading', { name: 'Ask', exact: true }).waitFor();
  const nav = admin.getByRole('navigation', { name: 'Main' });
  for (const link of ['Ask', 'History', 'Training', 'Admin', 'Account']) {
    await nav.getByRole('link', { name: link, exact: true }).waitFor();
  }
  await check(admin, '03-ask-empty');
});

const FIRST = 'How many customers are there in each country?';
// A question the offline generator answers with an assumption (medium confidence).
const ASSUMING = 'How many employees are there in each region?';
const CORRECTED = 'SELECT country, COUNT(*) AS customers_in_country FROM customers GROUP BY country ORDER BY customers_in_country DESC';

let lastAnswer = null;

await step('asking on the demo database shows progress, SQL, rows and a chart', async () => {
  await admin.getByLabel('Database').selectOption('demo');
  const { sent, done } = await ask(admin, FIRST);
  lastAnswer = done;
  // The page asks the API for the extras and starts a conversation.
  assert.equal(sent.summary, true);
  assert.equal(sent.followups, true);
  assert.equal(sent.conversation_id, undefined);
  assert.ok(done.conversation_id, 'the answer names its conversation');
  await showsTheApiExtras(admin, done);
  assert.match(await admin.getByTestId('conversation').innerText(), /1 question\b/);
  const steps = admin.getByRole('list', { name: 'Progress' }).locator('li');
  assert.equal(await steps.count(), 4);
  for (const s of await steps.all()) assert.equal(await s.getAttribute('data-state'), 'done');
  assert.match(await admin.locator('pre.sql').innerText(), /SELECT/i);
  const rows = admin.locator('.result tbody tr');
  assert.ok(await rows.count() > 1, 'rows shown');
  await admin.locator('.chart-box svg.chart').waitFor();
  assert.ok(await admin.locator('.chart-box svg .mark').count() > 1, 'chart marks drawn');
  await check(admin, '04-answer');
});

await step('the result table sorts and offers a CSV of every row', async () => {
  const header = admin.locator('.result thead th').first();
  await header.getByRole('button').click();
  assert.equal(await header.getAttribute('aria-sort'), 'ascending');
  const [download] = await Promise.all([admin.waitForEvent('download'), admin.getByRole('button', { name: 'Download CSV' }).click()]);
  const csv = readFileSync(await download.path(), 'utf8');
  const lines = csv.trim().split(/\r\n/);
  const shown = await admin.locator('.result .toolbar .muted').innerText();
  assert.equal(lines.length - 1, Number(shown.match(/[\d,]+/)[0].replace(/,/g, '')));
});

await step('"Explain" puts the answer\'s SQL in plain words', async () => {
  await admin.getByRole('button', { name: 'Explain', exact: true }).click();
  const box = admin.locator('.explain');
  await box.getByRole('heading', { name: 'What this SQL does' }).waitFor();
  assert.match(await box.innerText(), /It reads the table/);
  assert.match(await box.innerText(), /groups the rows by/);
  await check(admin, '23-explain-sql');
});

await step('a 👎 with a corrected SQL is learned', async () => {
  await admin.getByRole('button', { name: 'No, this answer is wrong' }).click();
  await admin.getByLabel('Corrected SQL (optional)').fill(CORRECTED);
  await admin.getByLabel('Comment (optional)').fill('name the count');
  await check(admin, '05-feedback-form');
  await admin.getByRole('button', { name: 'Send feedback' }).click();
  await admin.locator('#main').getByText('This is now a training example').waitFor();
});

await step('asking again gives the corrected answer', async () => {
  const { sent, done } = await ask(admin, 'how many customers are there per country');
  assert.equal(sent.conversation_id, lastAnswer.conversation_id, 'the second question continues the conversation');
  lastAnswer = done;
  assert.match(await admin.locator('pre.sql').innerText(), /customers_in_country/);
  assert.match(await admin.getByTestId('answer-meta').innerText(), /trained example/);
  assert.match(await admin.locator('.result thead').innerText(), /customers_in_country/);
  await shot(admin, '06-corrected-answer');
});

await step('analysts can edit and re-run the SQL', async () => {
  await admin.getByRole('button', { name: 'Edit and run' }).click();
  await admin.getByLabel('Edit the SQL').fill('SELECT name, price FROM products ORDER BY price DESC LIMIT 3');
  await admin.getByRole('button', { name: 'Run SQL' }).click();
  // The new result replaces the old one (whose header had no `price`).
  await admin.locator('.result thead', { hasText: 'price' }).waitFor();
  assert.equal(await admin.locator('.result tbody tr').count(), 3);
  assert.match(await admin.locator('pre.sql').innerText(), /FROM products/);
  // The summary described the old rows: it is gone.
  assert.equal(await admin.getByTestId('summary').count(), 0);
});

await step('an API error is shown as a sentence with its correlation id', async () => {
  await admin.getByRole('button', { name: 'Edit and run' }).click();
  await admin.getByLabel('Edit the SQL').fill('DELETE FROM customers');
  await admin.getByRole('button', { name: 'Run SQL' }).click();
  const alert = admin.getByRole('alert');
  await alert.waitFor();
  const text = await alert.innerText();
  assert.match(text, /refused by the safety check/);
  assert.match(text, /reference [0-9a-f-]{8,}/i);
  await shot(admin, '07-error');
});

await step('"Fix it" turns a failing SQL into a corrected one through the correction loop', async () => {
  await admin.getByLabel('Edit the SQL').fill('SELECT country, COUNT(*) FROM customer GROUP BY country');
  await admin.getByRole('button', { name: 'Run SQL' }).click();
  await admin.getByRole('alert').waitFor();
  await admin.getByRole('button', { name: 'Fix it' }).click();
  await admin.locator('#main').getByText('Corrected SQL below').waitFor();
  assert.match(await admin.getByLabel('Edit the SQL').inputValue(), /FROM customers\b/i);
  await check(admin, '24-fix-sql');
  await admin.getByRole('button', { name: 'Cancel' }).click();
});

await step("a suggested question from the API is asked in the same conversation; a new conversation starts afresh", async () => {
  const suggested = lastAnswer.followups.find((q) => /^How many \w+ are there\?$/.test(q));
  assert.ok(suggested, `a plain count among the API's follow-ups: ${JSON.stringify(lastAnswer.followups)}`);
  const chip = admin.getByTestId('followups').getByRole('button', { name: suggested, exact: true });
  const { sent, done } = await asked(admin, () => chip.click());
  assert.equal(sent.question, suggested);
  assert.equal(sent.conversation_id, lastAnswer.conversation_id);
  assert.equal(done.conversation_id, lastAnswer.conversation_id);
  assert.equal(await admin.locator('#answer-title').innerText(), suggested);
  await showsTheApiExtras(admin, done);
  assert.match(await admin.getByTestId('conversation').innerText(), /3 questions/);
  // A follow-up is read from the questions before it.
  const followUp = await ask(admin, 'and by city?');
  assert.equal(followUp.sent.conversation_id, lastAnswer.conversation_id);
  assert.ok(followUp.done.standalone_question, `rewritten: ${JSON.stringify(followUp.done)}`);
  const shownAs = await admin.getByTestId('standalone-question').innerText();
  assert.ok(shownAs.includes(followUp.done.standalone_question), shownAs);
  await check(admin, '20-conversation');
  await admin.getByRole('button', { name: 'New conversation' }).click();
  assert.equal(await admin.locator('#answer-title').count(), 0);
  const fresh = await ask(admin, 'How many products are there?');
  assert.equal(fresh.sent.conversation_id, undefined);
  assert.notEqual(fresh.done.conversation_id, lastAnswer.conversation_id);
  assert.match(await admin.getByTestId('conversation').innerText(), /1 question\b/);
});

await step('history lists the questions, filters them and reopens an answer', async () => {
  await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'History' }).click();
  await admin.getByRole('link', { name: FIRST }).waitFor();
  await check(admin, '08-history');
  await admin.getByLabel('Search your questions').fill('per country');
  await admin.getByRole('link', { name: FIRST }).waitFor({ state: 'detached' });
  await admin.getByRole('link', { name: 'how many customers are there per country' }).click();
  // The reopened answer keeps its confidence badge (from the history).
  assert.match(await admin.getByTestId('confidence').innerText(), /^Confidence: (high|medium|low)$/);
  await admin.getByRole('button', { name: 'Run again to see the rows' }).click();
  await admin.locator('.result tbody tr').first().waitFor();
  await admin.locator('.chart-box svg.chart').waitFor();
  await check(admin, '09-history-answer');
});

await step('training lists the learned example and adds documentation', async () => {
  await admin.goto(`${BASE}/ui/training`);
  await admin.getByRole('heading', { name: 'Training', exact: true }).waitFor();
  await admin.getByLabel('Kind', { exact: true }).first().selectOption('question_sql');
  await admin.getByRole('button', { name: 'Search', exact: true }).click();
  await admin.locator('#main').getByText('customers_in_country').first().waitFor();
  await admin.locator('form.card').getByLabel('Kind').selectOption('documentation');
  await admin.getByLabel('Content (question, text or DDL)').fill('A VIP customer has spent more than 1000 in total.');
  await admin.getByRole('button', { name: 'Add', exact: true }).click();
  await admin.locator('#main').getByText('Added.').waitFor();
  await check(admin, '10-training');
  // Edit the learned example: its question gets a second line.
  await admin.getByRole('button', { name: 'Edit question_sql item' }).first().click();
  await admin.getByLabel('Edit content').fill('How many customers are there in each country?\nBiggest first.');
  await check(admin, '25-training-edit');
  await admin.getByRole('button', { name: 'Save', exact: true }).click();
  await admin.locator('#main').getByText('Saved.').waitFor();
  await admin.locator('td.content .notes', { hasText: 'Biggest first.' }).waitFor();
  // The line break is kept on screen.
  assert.match(await admin.locator('td.content .notes', { hasText: 'Biggest first.' }).innerText(), /country\?\nBiggest first\./);
});

await step('the admin dashboard shows figures and charts', async () => {
  await admin.goto(`${BASE}/ui/admin`);
  await admin.locator('#main').getByText('Answer rate').waitFor();
  await admin.locator('.chart-box svg.chart').first().waitFor();
  const questions = await admin.locator('.tile').first().locator('.tile-value').innerText();
  assert.ok(Number(questions) >= 2, `questions tile: ${questions}`);
  await check(admin, '11-admin-dashboard');
});

await step('connections, audit log and API keys pages', async () => {
  await admin.goto(`${BASE}/ui/admin/connections`);
  await admin.getByRole('heading', { name: 'demo' }).waitFor();
  await admin.getByRole('button', { name: 'Test connection' }).first().click();
  await admin.locator('#main').getByText('Connection demo works').waitFor();
  // A connection added through the API: tested, refreshed, deleted.
  await admin.getByLabel('Name').fill('shop_copy');
  await admin.getByLabel('Dialect').selectOption('sqlite');
  await admin.getByLabel('Connection string').fill(`sqlite://${process.env.DATA_DIR}/demo.db`);
  await admin.getByLabel('Description (optional)').fill('A second view of the demo shop');
  await admin.getByRole('button', { name: 'Add connection' }).click();
  const copy = admin.getByRole('region', { name: 'shop_copy' });
  await copy.waitFor();
  await copy.getByRole('button', { name: 'Test connection' }).click();
  await copy.getByText('Connection shop_copy works').waitFor();
  await copy.getByRole('button', { name: 'Refresh schema' }).click();
  await copy.getByText(/Schema of shop_copy refreshed/).waitFor();
  // Built-in connections are refreshed the same way (a background job).
  const demo = admin.getByRole('region', { name: 'demo' });
  await demo.getByRole('button', { name: 'Refresh schema' }).click();
  await demo.getByText(/Schema of demo refreshed/).waitFor();
  await check(admin, '12-admin-connections');
  admin.once('dialog', (d) => d.accept());
  await copy.getByRole('button', { name: 'Delete' }).click();
  await admin.locator('#main').getByText('Deleted shop_copy.').waitFor();
  await admin.getByRole('region', { name: 'shop_copy' }).waitFor({ state: 'detached' });
  assert.equal(await admin.getByRole('region', { name: 'shop_copy' }).count(), 0);
  await admin.goto(`${BASE}/ui/admin/operations`);
  await admin.getByRole('button', { name: 'Back up now' }).click();
  await admin.locator('#main').getByText(/^Backup insight-sqlite-.* written/).waitFor();
  await admin.getByRole('region', { name: 'Backups' }).locator('tbody tr').first().waitFor();
  await admin.getByRole('region', { name: 'Background jobs' }).getByText('introspect (demo)').first().waitFor();
  await check(admin, '19-admin-jobs-backups');
  await admin.goto(`${BASE}/ui/admin/audit`);
  await admin.locator('tbody tr').first().waitFor();
  // Actors are named, not shown as raw ids.
  const actors = await admin.locator('tbody tr td:nth-child(2)').allInnerTexts();
  assert.ok(actors.includes('admin'), `audit actors: ${actors.slice(0, 5)}`);
  assert.ok(!actors.some((a) => /^[0-9a-f]{8}-[0-9a-f]{4}-/.test(a)), `no raw user ids: ${actors.slice(0, 5)}`);
  await check(admin, '13-admin-audit');
  await admin.goto(`${BASE}/ui/keys`);
  await admin.getByLabel('Name').fill('ci key');
  await admin.getByRole('button', { name: 'Create key' }).click();
  await admin.locator('#main').getByText('shown only this once').waitFor();
  assert.match(await admin.locator('code.secret').innerText(), /^ik_/);
  await check(admin, '14-api-keys');
});

const VIEWER = 'vera';
const VIEWER_PASSWORD = 'vera-secret-password-42';

await step('an admin creates a user who can then sign in', async () => {
  await admin.goto(`${BASE}/ui/admin/users`);
  await admin.getByLabel('Username').fill(VIEWER);
  await admin.getByLabel('Role', { exact: true }).selectOption('viewer');
  await admin.getByLabel('Password').fill(VIEWER_PASSWORD);
  await admin.getByRole('button', { name: 'Create user' }).click();
  await admin.locator('#main').getByText(`Created ${VIEWER}.`).waitFor();
  await admin.getByRole('cell', { name: VIEWER, exact: true }).waitFor();
  // Its databases: granted at creation, editable afterwards.
  await admin.getByRole('row', { name: new RegExp(`^${VIEWER}\\b`) }).getByRole('button', { name: 'Databases' }).click();
  await admin.getByRole('group', { name: `Databases of ${VIEWER}` }).getByLabel('demo').waitFor();
  assert.equal(await admin.getByRole('group', { name: `Databases of ${VIEWER}` }).getByLabel('demo').isChecked(), true);
  await check(admin, '15-admin-users');
  await admin.getByRole('group', { name: `Databases of ${VIEWER}` }).getByRole('button', { name: 'Save' }).click();
  await admin.locator('#main').getByText(`Databases of ${VIEWER} saved.`).waitFor();
});

const viewer = await newPage();
await step('the new viewer signs in and sees no admin or training pages', async () => {
  await signIn(viewer, VIEWER, VIEWER_PASSWORD);
  await viewer.getByRole('heading', { name: 'Ask', exact: true }).waitFor();
  const nav = viewer.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'History' }).waitFor();
  assert.equal(await nav.getByRole('link', { name: 'Admin' }).count(), 0);
  assert.equal(await nav.getByRole('link', { name: 'Training' }).count(), 0);
  assert.match(await viewer.locator('.who').innerText(), /vera \(viewer\)/);
});

await step('admin and training pages say "not allowed" to a viewer, and their API answers 403', async () => {
  for (const path of ['/ui/admin', '/ui/admin/users', '/ui/admin/operations', '/ui/training']) {
    await viewer.goto(`${BASE}${path}`);
    await viewer.getByRole('heading', { name: 'Not allowed' }).waitFor();
  }
  await check(viewer, '16-viewer-not-allowed');
  const statuses = await viewer.evaluate(async () => {
    const { access_token: token } = JSON.parse(sessionStorage.getItem('insight.session'));
    const out = {};
    for (const p of ['/api/v1/admin/users', '/api/v1/admin/stats', '/api/v1/admin/audit', '/api/v1/admin/jobs', '/api/v1/admin/backups', '/api/v1/training']) {
      out[p] = (await fetch(p, { headers: { authorization: `Bearer ${token}` } })).status;
    }
    return out;
  });
  for (const [p, s] of Object.entries(statuses)) assert.equal(s, 403, p);
});

// ---------------------------------------------------------------- saved questions, dashboards, uploads (issue 18)

const SAVED_TITLE = 'Customers per country';
let shareUrl = null;
let boardPath = null;

await step('an answer is kept, run again, its chart switched, downloaded as SVG and PNG, and shared', async () => {
  await admin.goto(`${BASE}/ui/ask`);
  await admin.getByLabel('Database').selectOption('demo');
  await ask(admin, FIRST);
  await admin.getByLabel('Title', { exact: true }).fill(SAVED_TITLE);
  await admin.getByRole('button', { name: 'Save', exact: true }).click();
  await admin.getByRole('link', { name: 'See your saved questions' }).click();
  await admin.getByRole('heading', { name: 'Saved questions' }).waitFor();
  const item = admin.locator('.saved-item').filter({ hasText: SAVED_TITLE });
  await item.getByRole('button', { name: 'Run' }).click();
  await item.locator('.chart-box svg.chart').waitFor();
  assert.ok(await item.locator('.result tbody tr').count() > 1, 'fresh rows');
  const [svg] = await Promise.all([admin.waitForEvent('download'), item.getByRole('button', { name: 'Download SVG' }).click()]);
  assert.match(readFileSync(await svg.path(), 'utf8'), /^<svg[^>]*role="img"/);
  const [png] = await Promise.all([admin.waitForEvent('download'), item.getByRole('button', { name: 'Download PNG' }).click()]);
  assert.deepEqual([...readFileSync(await png.path()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG file');
  const chartType = item.getByLabel(`Chart type of ${SAVED_TITLE}`);
  await chartType.selectOption('table');
  await item.getByText('Shown as a table.').waitFor();
  assert.equal(await item.locator('svg.chart').count(), 0);
  await chartType.selectOption('bar');
  await item.locator('svg.chart-bar').waitFor();
  await item.getByRole('button', { name: 'Share', exact: true }).click();
  shareUrl = await item.getByTestId('share-url').inputValue();
  assert.match(shareUrl, /\/ui\/shared\/[0-9a-f]{32}$/);
  await check(admin, '30-saved');
});

await step('a dashboard pins saved questions and refreshes them', async () => {
  await admin.goto(`${BASE}/ui/dashboards`);
  await admin.getByRole('heading', { name: 'Dashboards' }).waitFor();
  await admin.getByLabel('New dashboard').fill('Shop overview');
  await admin.getByRole('button', { name: 'Create', exact: true }).click();
  await check(admin, '31-dashboards');
  await admin.getByRole('link', { name: 'Shop overview' }).click();
  await admin.getByRole('heading', { name: 'Shop overview', level: 1 }).waitFor();
  boardPath = new URL(admin.url()).pathname;
  await admin.getByLabel('Saved question').selectOption({ label: SAVED_TITLE });
  await admin.getByRole('button', { name: 'Pin', exact: true }).click();
  await admin.getByTestId('tile').locator('svg.chart').waitFor();
  await admin.getByRole('button', { name: 'Refresh' }).click();
  await admin.getByTestId('tile').locator('.result tbody tr').first().waitFor();
  await check(admin, '32-dashboard');
});

await step('a CSV file becomes a table of the uploads database; a bad file gets a clear error', async () => {
  await admin.goto(`${BASE}/ui/uploads`);
  await admin.getByRole('heading', { name: 'Your data' }).waitFor();
  await admin.getByLabel('File', { exact: true }).setInputFiles({ name: 'Sales 2024.csv', mimeType: 'text/csv', buffer: Buffer.from('Region,Units,Sold on\nNorth,3,2024-01-05\nSouth,5,2024-02-01\n') });
  assert.equal(await admin.getByLabel('Table name').inputValue(), 'Sales 2024');
  await admin.getByRole('button', { name: 'Upload' }).click();
  await admin.locator('#main').getByText(/Table sales_2024 created: 2 rows/).waitFor();
  await admin.getByRole('heading', { name: 'sales_2024' }).waitFor();
  await admin.getByLabel('File', { exact: true }).setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b\n1\n') });
  await admin.getByLabel('Table name').fill('bad');
  await admin.getByRole('button', { name: 'Upload' }).click();
  await admin.getByRole('alert').filter({ hasText: /line 2 has 1 fields but the header has 2/ }).waitFor();
  await check(admin, '33-uploads');
  // The new table is asked about like any database.
  await admin.goto(`${BASE}/ui/ask`);
  await admin.getByLabel('Database').selectOption('uploads');
});

await step('an Excel workbook becomes a table too; a missing sheet is named in the error', async () => {
  await admin.goto(`${BASE}/ui/uploads`);
  await admin.getByRole('heading', { name: 'Your data' }).waitFor();
  const book = { name: 'Team.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: workbook('Staff', [['Name', 'Hired', 'Salary'], ['Ana', '2023-04-01', 5200], ['Ben', '2024-09-15', 4800.5]]) };
  await admin.getByLabel('File', { exact: true }).setInputFiles(book);
  assert.equal(await admin.getByLabel('Table name').inputValue(), 'Team');
  await admin.getByLabel('Sheet (Excel only)').fill('Payroll');
  await admin.getByRole('button', { name: 'Upload' }).click();
  await admin.getByRole('alert').filter({ hasText: /no sheet `Payroll`; its sheets: Staff/ }).waitFor();
  await admin.getByLabel('Sheet (Excel only)').fill('');
  await admin.getByRole('button', { name: 'Upload' }).click();
  await admin.locator('#main').getByText(/Table team created: 2 rows, columns name \(text\), hired \(date\), salary \(real\)/).waitFor();
  await admin.getByRole('heading', { name: 'team' }).waitFor();
  await check(admin, '33-uploads-xlsx');
});

await step('a share link gives a viewer fresh rows under their own access, and a limited one a refusal', async () => {
  await viewer.goto(shareUrl);
  await viewer.getByRole('heading', { name: SAVED_TITLE, level: 1 }).waitFor();
  await viewer.getByTestId('tile').locator('.result tbody tr').first().waitFor();
  await check(viewer, '34-shared');
  await viewer.goto(`${BASE}/ui/uploads`);
  await viewer.getByRole('heading', { name: 'Not allowed' }).waitFor();
  const LIMITED = 'lena-limited';
  const LIMITED_PASSWORD = 'lena-limited-password-42';
  await admin.evaluate(async ({ name, password }) => {
    const { access_token: token } = JSON.parse(sessionStorage.getItem('insight.session'));
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const user = await (await fetch('/api/v1/admin/users', { method: 'POST', headers, body: JSON.stringify({ username: name, role: 'viewer', password }) })).json();
    await fetch(`/api/v1/admin/users/${user.id}/grants`, { method: 'PUT', headers, body: JSON.stringify([{ connection: 'demo', allowed_tables: ['orders'] }]) });
  }, { name: LIMITED, password: LIMITED_PASSWORD });
  const limited = await newPage();
  await signIn(limited, LIMITED, LIMITED_PASSWORD);
  await limited.getByRole('heading', { name: 'Ask', exact: true }).waitFor();
  await limited.goto(shareUrl);
  await limited.getByTestId('tile-refused').waitFor();
  assert.equal(await limited.locator('.result').count(), 0, 'no rows for a refused tile');
  assert.doesNotMatch(await limited.locator('#main').innerText(), /@example\.com|FROM customers/i);
  await check(limited, '35-shared-refused');
});

await step('saved, dashboard, shared and uploads pages at phone width', async () => {
  const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await signIn(phone, 'admin', ADMIN_PASSWORD);
  await phone.getByRole('heading', { name: 'Ask', exact: true }).waitFor();
  const pages = [['/ui/saved', 'Saved questions'], [boardPath, 'Shop overview'], [new URL(shareUrl).pathname, SAVED_TITLE], ['/ui/uploads', 'Your data']];
  for (const [path, heading] of pages) {
    await phone.goto(`${BASE}${path}`);
    await phone.getByRole('heading', { name: heading, exact: true, level: 1 }).waitFor();
    await phone.waitForLoadState('networkidle');
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 391, `no horizontal scroll on ${path} (${width}px)`);
    await check(phone, `36-phone${path.replace(/\//g, '-').slice(0, 40)}`);
  }
});

await step('a phone-width, dark-theme page is readable and accessible', async () => {
  const phone = await newPage({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
  await signIn(phone, VIEWER, VIEWER_PASSWORD);
  await phone.getByRole('heading', { name: 'Ask', exact: true }).waitFor();
  await ask(phone, 'How many products are there?');
  await phone.locator('.chart-box svg.chart').waitFor();
  const bg = await phone.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.notEqual(bg, 'rgb(255, 255, 255)', 'dark background');
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 391, `no horizontal scroll at phone width (page is ${width}px wide)`);
  await check(phone, '17-phone-dark-answer');
});

await step('the keyboard alone reaches and submits the login form', async () => {
  const kb = await newPage();
  await kb.goto(`${BASE}/ui/login`);
  await kb.keyboard.type(VIEWER); // the username field has focus
  await kb.keyboard.press('Tab');
  await kb.keyboard.type(VIEWER_PASSWORD);
  await kb.keyboard.press('Enter');
  await kb.getByRole('heading', { name: 'Ask', exact: true }).waitFor();
});

await step('a viewer changes their own password; an admin resets it (desktop and phone)', async () => {
  const NEW = 'vera-changed-password-77';
  await viewer.goto(`${BASE}/ui/keys`);
  await viewer.getByRole('heading', { name: 'Change your password' }).waitFor();
  await viewer.getByLabel('Current password').fill('not-my-password');
  await viewer.getByLabel('New password', { exact: true }).fill(NEW);
  await viewer.getByLabel('New password again').fill(NEW);
  await viewer.getByRole('button', { name: 'Change password' }).click();
  await viewer.locator('#main').getByText('The current password is wrong.').waitFor();
  await viewer.getByLabel('Current password').fill(VIEWER_PASSWORD);
  await viewer.getByLabel('New password', { exact: true }).fill(NEW);
  await viewer.getByLabel('New password again').fill(NEW);
  await viewer.getByRole('button', { name: 'Change password' }).click();
  await viewer.locator('#main').getByText(/Password changed/).waitFor();
  await check(viewer, '20-account-password');
  // This tab carries on with the fresh tokens.
  await viewer.goto(`${BASE}/ui/history`);
  await viewer.getByRole('heading', { name: 'History' }).waitFor();
  const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await signIn(phone, VIEWER, NEW);
  await phone.getByRole('heading', { name: 'Ask', exact: true }).waitFor();
  await phone.goto(`${BASE}/ui/keys`);
  await phone.getByRole('heading', { name: 'Change your password' }).waitFor();
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 391, `no horizontal scroll on the account page (${width}px)`);
  await check(phone, '21-phone-account');

  await admin.goto(`${BASE}/ui/admin/users`);
  const row = admin.getByRole('row', { name: new RegExp(`^${VIEWER}\\b`) });
  admin.once('dialog', (d) => d.accept());
  await row.getByRole('button', { name: 'Reset password' }).click();
  await admin.locator('#main').getByText(`New password of ${VIEWER}`).waitFor();
  const generated = await admin.locator('code.secret').innerText();
  assert.equal(generated.length, 24);
  await check(admin, '22-admin-password-reset');
  // The admin's own row has no reset button (they change theirs on Account).
  assert.equal(await admin.getByRole('row', { name: /^admin\b/ }).getByRole('button', { name: 'Reset password' }).count(), 0);
  const fresh = await newPage();
  await signIn(fresh, VIEWER, generated);
  await fresh.getByRole('heading', { name: 'Ask', exact: true }).waitFor();
});

await step('repeated wrong passwords lock the login with a clear message', async () => {
  const p = await newPage();
  let text = '';
  for (let i = 0; i < 8 && !/Too many attempts/.test(text); i++) {
    await signIn(p, 'mallory', `wrong-${i}`);
    await p.getByRole('alert').waitFor();
    text = await p.getByRole('alert').innerText();
  }
  assert.match(text, /Too many attempts\. Please wait \d+ (seconds|minutes)/);
  await check(p, '18-login-locked');
});

// ---------------------------------------------------------------- issue 18: the Ask page's schema browser, starters, confidence

/** The caller's schema view, as the API gives it to this page's session. */
async function schemaOf(page, connection) {
  return page.evaluate(async (c) => {
    const { access_token: token } = JSON.parse(sessionStorage.getItem('insight.session'));
    return (await fetch(`/api/v1/connections/${c}/schema`, { headers: { authorization: `Bearer ${token}` } })).json();
  }, connection);
}

/** No slanted x label's box overlaps the x-axis title's box in the first chart. */
async function labelsClearTheTitle(page) {
  return page.locator('.chart-box svg.chart').first().evaluate((svg) => {
    const title = [...svg.querySelectorAll('text.axis-title')].find((t) => !t.getAttribute('transform'));
    const t = title.getBoundingClientRect();
    const labels = [...svg.querySelectorAll('text.tick[transform]')];
    const hits = labels.filter((l) => { const r = l.getBoundingClientRect(); return r.bottom > t.top && r.top < t.bottom && r.right > t.left && r.left < t.right; });
    return { labels: labels.length, overlaps: hits.map((l) => l.textContent) };
  });
}

const desk = await newPage({ viewport: { width: 1366, height: 900 } });

await step('the Ask page offers starter questions and a schema browser with sample values', async () => {
  await signIn(desk, 'admin', ADMIN_PASSWORD);
  await desk.getByRole('heading', { name: 'Ask', exact: true }).waitFor();
  await desk.getByTestId('starters').waitFor();
  const schema = await schemaOf(desk, 'demo');
  assert.ok(schema.starter_questions.length >= 4, JSON.stringify(schema.starter_questions));
  assert.deepEqual(await desk.getByTestId('starters').getByRole('button').allInnerTexts(), schema.starter_questions);
  const browser = desk.getByTestId('schema-browser');
  assert.equal(await browser.locator('details.table-info').count(), schema.tables.length);
  const customers = browser.locator('details[data-table="customers"]');
  await customers.locator('summary').click();
  assert.match(await customers.innerText(), /primary key/);
  const orders = browser.locator('details[data-table="orders"]');
  await orders.locator('summary').click();
  assert.match(await orders.innerText(), /→ customers\.id/);
  await customers.getByRole('button', { name: 'Show sample values' }).click();
  await customers.getByText(/Sample values from \d+ rows?/).waitFor();
  const country = customers.getByRole('row', { name: /^country\b/ });
  assert.ok((await country.locator('td.sample').innerText()).trim().length > 0, 'sample values of country shown');
  await check(desk, '26-schema-browser');
});

await step('a starter question answers with a confidence badge; "That\'s wrong" opens the correction form', async () => {
  const first = (await desk.getByTestId('starters').getByRole('button').allInnerTexts())[0];
  const { sent, done } = await asked(desk, () => desk.getByTestId('starters').getByRole('button', { name: first, exact: true }).click());
  assert.equal(sent.question, first);
  assert.notEqual(done.confidence, 'low');
  assert.equal(await desk.getByTestId('confidence').innerText(), `Confidence: ${done.confidence}`);
  assert.equal(await desk.getByTestId('starters').isVisible(), false, 'starters step aside once a question is asked');
  await desk.getByTestId('thats-wrong').click();
  await desk.getByLabel('Corrected SQL (optional)').waitFor();
  assert.equal(await desk.getByLabel('Corrected SQL (optional)').inputValue(), done.sql);
  await check(desk, '27-confidence-badge');
});

await step('assumptions are listed beside an answer that made some', async () => {
  const { done } = await ask(desk, ASSUMING);
  assert.ok(done.assumptions.length > 0, `the API made assumptions: ${JSON.stringify(done)}`);
  assert.notEqual(done.confidence, 'high');
  assert.equal(await desk.getByTestId('confidence').innerText(), `Confidence: ${done.confidence}`);
  assert.deepEqual(await desk.getByTestId('assumptions').locator('li').allInnerTexts(), done.assumptions.map((a) => a.message));
  await check(desk, '28-assumptions');
});

await step('a refusal offers questions this database can answer', async () => {
  await desk.getByLabel('Question').fill('what is the meaning of life');
  await desk.getByRole('button', { name: 'Ask', exact: true }).click();
  await desk.getByRole('alert').waitFor();
  const offered = desk.getByTestId('refusal-suggestions').getByRole('button');
  await offered.first().waitFor();
  assert.ok(await offered.count() >= 1 && await offered.count() <= 4);
  await check(desk, '29-refusal-suggestions');
  const q = await offered.first().innerText();
  const { done } = await asked(desk, () => offered.first().click());
  assert.equal(done.question, q);
  assert.ok(done.row_count > 0);
});

await step('a table over time starts in time order, like its chart', async () => {
  const { done } = await ask(desk, 'How many orders per month?');
  assert.equal(done.chart && done.chart.encoding.x.type, 'temporal', JSON.stringify(done.chart));
  const field = done.chart.encoding.x.field;
  const head = desk.locator('.result thead th', { hasText: field });
  assert.equal(await head.getAttribute('aria-sort'), 'ascending');
  const index = done.columns.findIndex((c) => c.name === field);
  const shown = await desk.locator(`.result tbody tr td:nth-child(${index + 1})`).allInnerTexts();
  assert.deepEqual(shown, [...shown].sort(), 'months in order');
  await desk.locator('.chart-box svg.chart').waitFor();
});

await step('slanted chart labels with many categories keep clear of the axis title', async () => {
  await ask(desk, 'How many customers are there in each city?');
  await desk.locator('.chart-box svg.chart').waitFor();
  const r = await labelsClearTheTitle(desk);
  assert.ok(r.labels >= 10, `slanted labels: ${r.labels}`);
  assert.deepEqual(r.overlaps, []);
  await desk.locator('.chart-box svg.chart').first().screenshot({ path: `${SHOTS}/30-many-categories-chart.png` });
  await shot(desk, '30-many-categories');
});

await step('on a phone (dark): starters, schema browser, confidence, and chart text that stays readable', async () => {
  const phone = await newPage({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
  await signIn(phone, 'admin', ADMIN_PASSWORD);
  await phone.getByTestId('starters').waitFor();
  await phone.getByTestId('schema-browser').locator('details[data-table="orders"] summary').click();
  let width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 391, `no horizontal scroll with the schema browser open (${width}px)`);
  await check(phone, '31-phone-schema-browser');
  await ask(phone, 'How many customers are there in each city?');
  const chart = phone.locator('.chart-box svg.chart');
  await chart.waitFor();
  // Tick labels measure at least 10 CSS px high on screen.
  const px = await chart.evaluate((svg) => Math.min(...[...svg.querySelectorAll('text.tick')].map((t) => parseFloat(getComputedStyle(t).fontSize) * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width)));
  assert.ok(px >= 10, `chart text ${px.toFixed(1)} px on a phone`);
  const r = await labelsClearTheTitle(phone);
  assert.deepEqual(r.overlaps, []);
  await chart.screenshot({ path: `${SHOTS}/33-phone-chart.png` });
  width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 391, `no horizontal scroll with an answer (${width}px)`);
  await check(phone, '32-phone-confidence-chart');
});

await step('no Content-Security-Policy violation and no script error', async () => {
  assert.deepEqual(cspViolations, []);
  assert.deepEqual(pageErrors, []);
});

await browser.close();
console.log(`\n${passed} passed, ${failures.length} failed${failures.length ? `: ${failures.join('; ')}` : ''}`);
process.exit(failures.length ? 1 : 0);
