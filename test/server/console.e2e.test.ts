/**
 * The web console end to end in a real browser: Debian's chromium driven by playwright-core against a real
 * `serve` with the samples ingested. Every view at 1440×900 and 390×844 (no sideways scroll), the sign-in page
 * alone, and an XSS corpus through every field shown. Screenshots go to test-artifacts/console/ (git-ignored).
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/cli/startServer.js';
import { defaultConfig } from '../../src/service/config.js';
import { parseWorkflows } from '../../src/respond/index.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { AUTH, TOKEN } from './support/http.js';
import { ndjson, sysmonProcessCreate } from './support/events.js';
import { XSS, xssEvents } from './support/xss.js';

// The browser globals used inside page.evaluate callbacks (they run in Chromium; the tests' tsconfig has no DOM
// lib, and adding it globally would retype fetch for every other test). Module-scoped declarations only.
interface BrowserEl {
  tagName: string;
  textContent: string | null;
  src: string;
  clientWidth: number;
  getAttributeNames(): string[];
  getAttribute(name: string): string | null;
}
interface BrowserList extends Iterable<BrowserEl> {
  length: number;
}
interface BrowserStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}
declare const document: { scrollingElement: { scrollWidth: number } | null; scripts: BrowserList; querySelector(s: string): BrowserEl | null; querySelectorAll(s: string): BrowserList };
declare const window: { innerWidth: number; __pwned?: number };
declare const sessionStorage: BrowserStorage;
declare const localStorage: BrowserStorage;

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent (apt-get install -y chromium; .ci/run does it)`;

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'console');
const WIDE = { width: 1440, height: 900 };
const NARROW = { width: 390, height: 844 };

/** A read-only and a respond-only token beside the admin TOKEN, to see what each role is shown. */
const READ_TOKEN = 'viewer-token-0123456789abcdef';
const RESPOND_TOKEN = 'responder-token-0123456789abcdef';
/** Where the stop-process workflow's harmless script records the argv it was run with (one JSON line per run). */
let argvLog = '';
let recorder = '';

let srv: RunningServer;
let browser: Browser | undefined;
let dataDir = '';

/** Posts a body to /ingest; `malformed` documents (the samples' deliberate error path) may be refused. */
async function ingest(body: string | Buffer, headers: Record<string, string>, malformed = 0): Promise<void> {
  const r = await fetch(`${srv.url}/ingest`, { method: 'POST', headers: { ...AUTH, ...headers }, body });
  const answer = (await r.json()) as { rejected?: number; stored?: number };
  assert.equal(r.status, malformed ? 400 : 200, JSON.stringify(answer));
  assert.equal(answer.rejected ?? 0, malformed, JSON.stringify(answer));
}

before(async () => {
  if (skip) return;
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-console.mjs')], { stdio: 'inherit' });
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'pw-console-'));
  // Stop-process through a harmless local script that records its argv and prints what it would stop.
  argvLog = join(dataDir, 'argv.jsonl');
  recorder = join(dataDir, 'record-argv.mjs');
  writeFileSync(
    recorder,
    [
      "import { appendFileSync } from 'node:fs';",
      'appendFileSync(process.env.ARGV_LOG, JSON.stringify(process.argv.slice(2)) + "\\n");',
      'console.log(`would stop ${process.env.PROCWATCH_TARGET_NAME} (${process.env.PROCWATCH_TARGET_PID}) on ${process.env.PROCWATCH_TARGET_HOST}`);',
    ].join('\n'),
  );
  const workflows = parseWorkflows([
    {
      name: 'stop-certreq',
      type: 'stop_process',
      rules: ['certreq-download-upload'],
      min_severity: 'low',
      via: 'command',
      dry_run: false,
      approval: 'required',
      argv: [process.execPath, recorder, '{host.name}', '{process.pid}', '{process.executable}'],
      env: { ARGV_LOG: argvLog },
    },
  ]);
  const tokens = [
    { name: 'analyst', token: TOKEN },
    { name: 'viewer', token: READ_TOKEN, scopes: ['read' as const] },
    { name: 'responder', token: RESPOND_TOKEN, scopes: ['respond' as const] },
  ];
  srv = await startServer({ ...defaultConfig(), port: 0, dataDir, tokens, workflows }, { notice: () => {} });
  const samples = join(REPO_ROOT, 'samples');
  await ingest(readFileSync(join(samples, 'sysmon-ws01.xml')), { 'content-type': 'application/xml' });
  await ingest(readFileSync(join(samples, 'security-ws03.xml')), { 'content-type': 'application/xml' });
  await ingest(readFileSync(join(samples, 'winlogbeat-ws02.ndjson')), { 'content-type': 'application/x-ndjson' }, 1);
  await ingest(readFileSync(join(samples, 'evtx-dump-ws04.jsonl.gz')), { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' });
  await ingest(ndjson(xssEvents()), { 'content-type': 'application/x-ndjson' });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
});

after(async () => {
  await browser?.close();
  await srv?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

interface Watched {
  ctx: BrowserContext;
  page: Page;
  /** Dialogs opened (alert/confirm/prompt): an XSS payload that ran. */
  dialogs: string[];
  /** Console errors, e.g. a CSP violation or an uncaught exception. */
  errors: string[];
}

async function open(viewport: { width: number; height: number }, signedIn = true, token = TOKEN): Promise<Watched> {
  const ctx = await browser!.newContext({ viewport });
  if (signedIn) await ctx.addInitScript((t: string) => sessionStorage.setItem('procwatch.token', t), token);
  const page = await ctx.newPage();
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });
  return { ctx, page, dialogs, errors };
}

async function noSidewaysScroll(page: Page, what: string): Promise<void> {
  const { sw, iw } = await page.evaluate(() => ({ sw: document.scrollingElement!.scrollWidth, iw: window.innerWidth }));
  assert.ok(sw <= iw, `${what}: page scrolls sideways (scrollWidth ${sw} > innerWidth ${iw})`);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

/** The newest alert whose text contains `q` (through the API, to learn an id to open). */
async function alertId(q: string, host?: string): Promise<{ id: string; incident_id: string | null }> {
  const p = new URLSearchParams({ q, limit: '1', ...(host ? { host } : {}) });
  const r = (await (await fetch(`${srv.url}/api/alerts?${p}`, { headers: AUTH })).json()) as { items: { id: string; incident_id: string | null }[] };
  assert.ok(r.items[0], `an alert matching ${q}`);
  return r.items[0];
}

function noInjection(w: Watched, what: string): Promise<void> {
  return w.page
    .evaluate(() => {
      const bad: string[] = [];
      if (window.__pwned) bad.push('payload ran');
      if (document.querySelector('img[src="x"], svg[onload], img[onerror]')) bad.push('element injected');
      const scripts = [...document.scripts].filter((s) => !s.src.endsWith('/console/app.js'));
      if (scripts.length) bad.push(`${scripts.length} extra script element(s)`);
      for (const el of document.querySelectorAll('*')) {
        for (const a of el.getAttributeNames()) if (a.startsWith('on')) bad.push(`${el.tagName} has ${a}`);
      }
      for (const a of document.querySelectorAll('a')) if (/^\s*javascript:/i.test(a.getAttribute('href') ?? '')) bad.push('javascript: link');
      return bad;
    })
    .then((bad) => {
      assert.deepEqual(bad, [], `${what}: ${bad.join('; ')}`);
      assert.deepEqual(w.dialogs, [], `${what}: a dialog opened`);
    });
}

describe('web console in Chromium (1440×900 and 390×844)', { skip }, () => {
  test('/ sends a browser to the console; an Elasticsearch probe keeps its JSON answer', async () => {
    const html = await fetch(`${srv.url}/`, { headers: { accept: 'text/html,application/xhtml+xml' }, redirect: 'manual' });
    assert.equal(html.status, 302);
    assert.equal(html.headers.get('location'), '/console/');
    const probe = await fetch(`${srv.url}/`, { headers: AUTH });
    assert.equal(probe.status, 200);
    assert.equal(probe.headers.get('x-elastic-product'), 'Elasticsearch');
    const anon = await fetch(`${srv.url}/`, { headers: { accept: 'application/json' } });
    assert.equal(anon.status, 401);
    const page = await fetch(`${srv.url}/console/`);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'; style-src 'self'/);
    assert.match(await page.text(), /<script src="app.js" defer><\/script>/);
  });

  test('sign-in page shows the token form and nothing else; a wrong token is refused, a right one opens the overview', async () => {
    for (const [vp, tag] of [[WIDE, 'wide'], [NARROW, 'narrow']] as const) {
      const w = await open(vp, false);
      try {
        await w.page.goto(`${srv.url}/`);
        assert.match(w.page.url(), /\/console\/$/);
        await w.page.waitForSelector('form.signin-form');
        const extra = await w.page.evaluate(() => document.querySelectorAll('nav, table, .pager, .search, header.top, canvas').length);
        assert.equal(extra, 0, 'nothing but the sign-in form before sign-in');
        await noSidewaysScroll(w.page, `sign-in ${tag}`);
        await shot(w.page, `signin-${tag}`);
        await w.page.fill('input[name=token]', 'wrong-token-wrong-token');
        await w.page.click('button[type=submit]');
        await w.page.waitForSelector('.signin-form .failure');
        assert.equal(await w.page.evaluate(() => sessionStorage.getItem('procwatch.token')), null);
        await w.page.fill('input[name=token]', TOKEN);
        await w.page.click('button[type=submit]');
        await w.page.waitForSelector('#over-time');
        assert.equal(await w.page.evaluate(() => sessionStorage.getItem('procwatch.token')), TOKEN);
        assert.equal(await w.page.evaluate(() => localStorage.getItem('procwatch.token')), null, 'the token is kept for this tab only');
        await w.page.click('text=Sign out');
        await w.page.waitForSelector('form.signin-form');
        assert.equal(await w.page.evaluate(() => sessionStorage.getItem('procwatch.token')), null);
      } finally {
        await w.ctx.close();
      }
    }
  });

  test('overview: chart, top rules by title, top hosts and status counts; a bar or a row filters the list', async () => {
    for (const [vp, tag] of [[WIDE, 'wide'], [NARROW, 'narrow']] as const) {
      const w = await open(vp);
      try {
        await w.page.goto(`${srv.url}/console/`);
        await w.page.waitForSelector('#over-time canvas');
        await w.page.waitForSelector('#top-rules a');
        assert.match(await w.page.textContent('#top-rules') ?? '', /Suspicious Certreq Command to Download or Upload/);
        assert.match(await w.page.textContent('#top-hosts') ?? '', /WS01\.corp\.example/);
        assert.match(await w.page.textContent('#by-status') ?? '', /\d+ open/);
        await noSidewaysScroll(w.page, `overview ${tag}`);
        await shot(w.page, `overview-${tag}`);
        if (tag === 'wide') {
          // Click the tallest bar: the list opens filtered to that bucket and shows its alerts.
          const stats = (await (await fetch(`${srv.url}/api/stats`, { headers: AUTH })).json()) as { buckets: { start: string[]; counts: Record<string, number[]> } };
          const totals = stats.buckets.start.map((_s, i) => Object.values(stats.buckets.counts).reduce((n, c) => n + (c[i] ?? 0), 0));
          const best = totals.indexOf(Math.max(...totals));
          const over = (await w.page.$('#over-time .u-over'))!;
          const box = (await over.boundingBox())!;
          const x = await w.page.evaluate(
            ([i, n]) => {
              const el = document.querySelector('#over-time .u-over')!;
              return ((i! + 0.5) / n!) * el.clientWidth;
            },
            [best, totals.length],
          );
          await w.page.mouse.move(box.x + x, box.y + box.height - 3);
          await w.page.mouse.click(box.x + x, box.y + box.height - 3);
          await w.page.waitForURL(/#\/alerts\?since=.*until=/);
          await w.page.waitForSelector('table.alerts tbody tr');
          const rows = await w.page.$$eval('table.alerts tbody tr', (r) => r.length);
          assert.equal(rows, Math.min(50, totals[best]!), 'the list shows the clicked bucket');
          await w.page.goBack();
          await w.page.waitForSelector('#top-hosts a');
          await w.page.click('#top-hosts a:has-text("WS01.corp.example")');
          await w.page.waitForURL(/#\/alerts\?host=WS01\.corp\.example/);
          await w.page.waitForSelector('table.alerts tbody tr');
          const hosts = await w.page.$$eval('table.alerts td.c-host', (c) => c.map((x) => x.textContent));
          assert.ok(hosts.length > 0 && hosts.every((h) => h === 'WS01.corp.example'), hosts.join(','));
        }
        assert.deepEqual(w.errors, []);
      } finally {
        await w.ctx.close();
      }
    }
  });

  test('search: free text and filters live in the URL, back works, j/k and Enter open an alert', async () => {
    for (const [vp, tag] of [[WIDE, 'wide'], [NARROW, 'narrow']] as const) {
      const w = await open(vp);
      try {
        await w.page.goto(`${srv.url}/console/#/alerts`);
        await w.page.waitForSelector('table.alerts tbody tr');
        const all = await w.page.$$eval('table.alerts tbody tr', (r) => r.length);
        await w.page.fill('input[name=q]', 'attacker.example');
        await w.page.press('input[name=q]', 'Enter');
        await w.page.waitForURL(/#\/alerts\?q=attacker\.example/);
        await w.page.waitForFunction((n) => document.querySelectorAll('table.alerts tbody tr').length < n, all);
        const cmds = await w.page.$$eval('table.alerts td.c-cmd', (c) => c.map((x) => x.textContent ?? ''));
        assert.ok(cmds.length > 0 && cmds.every((c) => c.includes('attacker.example')), cmds.join('\n'));
        await noSidewaysScroll(w.page, `alert list ${tag}`);
        await shot(w.page, `alerts-${tag}`);
        // Severity filter on top of the text, then back to the text-only search.
        await w.page.selectOption('select[name=severity]', 'critical');
        await w.page.click('form.search button[type=submit]');
        await w.page.waitForURL(/severity=critical/);
        await w.page.goBack();
        await w.page.waitForURL((u) => !u.hash.includes('severity'));
        assert.equal(await w.page.inputValue('input[name=q]'), 'attacker.example');
        await w.page.waitForFunction((n) => document.querySelectorAll('table.alerts tbody tr').length === n, cmds.length);
        // Keyboard: j selects the first row, j the second, k back to the first, Enter opens it.
        await w.page.locator('body').click({ position: { x: 2, y: 200 } });
        await w.page.keyboard.press('j');
        await w.page.keyboard.press('j');
        await w.page.keyboard.press('k');
        const firstId = await w.page.$eval('table.alerts tbody tr.selected', (r) => r.getAttribute('data-id'));
        const rowIds = await w.page.$$eval('table.alerts tbody tr', (r) => r.map((x) => x.getAttribute('data-id')));
        assert.equal(firstId, rowIds[0]);
        await w.page.keyboard.press('Enter');
        await w.page.waitForURL(new RegExp(`#/alerts/${firstId}$`));
        await w.page.waitForSelector('#reason');
        await w.page.goBack();
        await w.page.waitForURL(/#\/alerts\?q=attacker\.example$/);
        assert.deepEqual(w.errors, []);
      } finally {
        await w.ctx.close();
      }
    }
  });

  test('alert view: severity and reason first, certreq intent with the URL and files, rules by title, the drawn tree with its parent, evidence, related alerts', async () => {
    const { id } = await alertId('attacker.example/ c:', 'WS01.corp.example');
    for (const [vp, tag] of [[WIDE, 'wide'], [NARROW, 'narrow']] as const) {
      const w = await open(vp);
      try {
        await w.page.goto(`${srv.url}/console/#/alerts/${id}`);
        await w.page.waitForSelector('#intent');
        assert.match(await w.page.textContent('.detail-head h2') ?? '', /HIGH|CRITICAL|MEDIUM|LOW/i);
        assert.match(await w.page.textContent('#reason') ?? '', /certreq POSTs/);
        const intent = (await w.page.textContent('#intent')) ?? '';
        assert.match(intent, /-post/);
        assert.match(intent, /https:\/\/attacker\.example\//, 'the intent panel shows the URL');
        assert.match(intent, /attacker\.example/);
        assert.match(intent, /c:\\windows\\win\.ini/);
        assert.match(intent, /out\.txt/);
        assert.match(intent, /win\.ini dummy body/);
        assert.match(await w.page.textContent('#why') ?? '', /Suspicious Certreq Command to Download or Upload/);
        await w.page.waitForSelector('#tree svg .tree-node');
        const ancestors = await w.page.$$eval('#tree svg .tree-ancestor text.tree-image', (t) => t.map((x) => x.textContent));
        assert.ok(ancestors.includes('cmd.exe'), `the tree shows the parent: ${ancestors.join(',')}`);
        assert.equal(await w.page.$$eval('#tree svg .tree-process', (n) => n.length), 1);
        assert.ok((await w.page.$$eval('#tree svg path.tree-edge', (p) => p.length)) >= 1, 'an edge from parent to process');
        assert.match(await w.page.textContent('#tree .tree-list') ?? '', /lifetime 1\.085 s/);
        await w.page.waitForSelector('#evidence .timeline svg circle');
        assert.match(await w.page.textContent('#evidence') ?? '', /203\.0\.113\.50:443/);
        await w.page.waitForSelector('#related .related-group');
        assert.match(await w.page.textContent('#related') ?? '', /Same incident \(\d+\)/);
        // Times are shown one way: UTC, milliseconds.
        const times = await w.page.$$eval('time', (t) => t.map((x) => x.textContent ?? ''));
        assert.ok(times.length > 3 && times.every((t) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/.test(t)), times.join(' | '));
        await noSidewaysScroll(w.page, `alert view ${tag}`);
        await shot(w.page, `alert-${tag}`);
        await w.page.locator('#tree').scrollIntoViewIfNeeded();
        await shot(w.page, `alert-tree-${tag}`);
        if (tag === 'wide') {
          // The local-time switch changes every time shown (still milliseconds), and is remembered.
          await w.page.click('button.zone');
          await w.page.waitForFunction(() => [...document.querySelectorAll('time')].every((t) => / [+-]\d\d:\d\d$/.test(t.textContent ?? '')));
          await w.page.click('button.zone');
          // A related alert opens its own view.
          const link = w.page.locator('#related table.alerts td.c-rule a').first();
          const href = await link.getAttribute('href');
          await link.click();
          await w.page.waitForURL((u) => u.hash === href);
          await w.page.waitForSelector('#reason');
        }
        assert.deepEqual(w.errors, []);
      } finally {
        await w.ctx.close();
      }
    }
  });

  test('incident view: timeline of its alerts, hosts and users, status; its alerts open', async () => {
    const { incident_id } = await alertId('attacker.example/ c:', 'WS01.corp.example');
    assert.ok(incident_id);
    for (const [vp, tag] of [[WIDE, 'wide'], [NARROW, 'narrow']] as const) {
      const w = await open(vp);
      try {
        await w.page.goto(`${srv.url}/console/#/incidents`);
        await w.page.waitForSelector('table.incidents tbody tr');
        await noSidewaysScroll(w.page, `incident list ${tag}`);
        await shot(w.page, `incidents-${tag}`);
        await w.page.goto(`${srv.url}/console/#/incidents/${incident_id}`);
        await w.page.waitForSelector('#incident-timeline svg a circle');
        const marks = await w.page.$$eval('#incident-timeline svg a', (a) => a.length);
        const rows = await w.page.$$eval('#incident-alerts tbody tr', (r) => r.length);
        assert.ok(marks >= 2 && marks === rows, `one mark per alert (${marks} marks, ${rows} alerts)`);
        const head = (await w.page.textContent('.detail-head')) ?? '';
        assert.match(head, /WS01\.corp\.example/);
        assert.match(head, /Usersalice/);
        assert.match(head, /open/);
        await noSidewaysScroll(w.page, `incident view ${tag}`);
        await shot(w.page, `incident-${tag}`);
        await w.page.click('#incident-alerts tbody tr >> nth=0');
        await w.page.waitForURL(/#\/alerts\/[0-9a-f]+$/);
        await w.page.waitForSelector('#reason');
        await w.page.goto(`${srv.url}/console/#/actions`);
        await w.page.waitForSelector('.list-view .count');
        await noSidewaysScroll(w.page, `actions ${tag}`);
        assert.deepEqual(w.errors, []);
      } finally {
        await w.ctx.close();
      }
    }
  });

  test('XSS corpus through every field shown stays text: no dialog, no element injected, bidi overrides shown', async () => {
    const a1 = await alertId('XSS01');
    const a2 = await alertId('evil.example');
    for (const [vp, tag] of [[WIDE, 'wide'], [NARROW, 'narrow']] as const) {
      const w = await open(vp);
      try {
        const views = [
          `#/overview`,
          `#/alerts?q=${encodeURIComponent('<img')}`,
          `#/alerts/${a1.id}`,
          `#/alerts/${a2.id}`,
          ...(a1.incident_id ? [`#/incidents/${a1.incident_id}`] : []),
          `#/incidents`,
          `#/actions`,
        ];
        for (const v of views) {
          await w.page.goto(`${srv.url}/console/${v}`);
          await w.page.waitForSelector('.overview, table, .detail');
          await w.page.waitForFunction(() => !document.querySelector('.content > p.muted:only-child'));
          await w.page.waitForTimeout(150);
          await noInjection(w, `${tag} ${v}`);
          await noSidewaysScroll(w.page, `${tag} ${v}`);
        }
        await w.page.goto(`${srv.url}/console/#/alerts/${a1.id}`);
        await w.page.waitForSelector('#intent');
        const head = (await w.page.textContent('.detail-head')) ?? '';
        assert.ok(head.includes(XSS.img), 'the payload is shown as text');
        assert.ok(head.includes('invoice⟨U+202E⟩txt.exe'), 'the bidi override is shown, not applied');
        assert.ok(!(await w.page.content()).includes('\u202E'), 'no raw override reaches the page');
        await shot(w.page, `xss-${tag}`);
        assert.deepEqual(w.dialogs, []);
        assert.deepEqual(w.errors.filter((e) => /Content Security Policy|Refused/.test(e)), [], 'nothing the CSP had to block');
      } finally {
        await w.ctx.close();
      }
    }
  });

  test('live: a new alert announces itself on the list; refresh shows it', async () => {
    const w = await open(WIDE);
    try {
      await w.page.goto(`${srv.url}/console/#/alerts`);
      await w.page.waitForSelector('.live.on');
      await w.page.waitForSelector('table.alerts tbody tr');
      await ingest(ndjson([sysmonProcessCreate({ recordId: 910001, host: 'LIVE01.corp.example', time: '2024-05-03T09:00:00.000Z' })]), { 'content-type': 'application/x-ndjson' });
      await w.page.waitForSelector('button.fresh');
      assert.match((await w.page.textContent('button.fresh')) ?? '', /^1 new/);
      assert.equal(await w.page.$('td.c-host:has-text("LIVE01")'), null, 'the list does not move by itself');
      await w.page.click('button.fresh');
      await w.page.waitForSelector('table.alerts tbody tr:first-child td.c-host:has-text("LIVE01.corp.example")');
      assert.equal(await w.page.$('button.fresh'), null);
      assert.deepEqual(w.errors, []);
    } finally {
      await w.ctx.close();
    }
  });

  test('certreq flow with roles: read intent and tree, approve a stop-process action (422 when not corroborated, 409 when decided meanwhile), see the result and the audit on the action and on its alert', async () => {
    const ws01 = await alertId('attacker.example/ c:', 'WS01.corp.example');
    const adm = await alertId('Corp-CA', 'SRV-ADM01.corp.example');
    const actionOf = async (alert: string): Promise<{ id: string; request: { command: { argv: string[] } } }> => {
      const r = (await (await fetch(`${srv.url}/api/actions?alert=${alert}`, { headers: AUTH })).json()) as { items: { id: string; request: { command: { argv: string[] } } }[] };
      assert.ok(r.items[0], `an action for alert ${alert}`);
      return r.items[0];
    };
    const expected = (await actionOf(adm.id)).request.command.argv;
    assert.deepEqual(expected, [process.execPath, recorder, 'SRV-ADM01.corp.example', '4188', 'C:\\Windows\\System32\\certreq.exe']);

    const w = await open(WIDE, true, RESPOND_TOKEN);
    try {
      // The responder's header names the token and its scopes; no triage form for a respond-only token.
      await w.page.goto(`${srv.url}/console/#/alerts/${ws01.id}`);
      await w.page.waitForSelector('#intent');
      assert.match((await w.page.textContent('header.top .me')) ?? '', /responder\s*read respond/);
      await w.page.waitForSelector('#tree svg .tree-node');
      assert.equal(await w.page.$('#status form'), null, 'no status form without triage');
      // What will run, argument by argument, exactly as stored (and run).
      await w.page.waitForSelector('#actions .action-card .argv li');
      const shown = await w.page.$$eval('#actions .action-card .argv li', (li) => li.map((x) => x.textContent ?? ''));
      assert.deepEqual(shown, [process.execPath, recorder, 'WS01.corp.example', '6120', 'C:\\Windows\\System32\\certreq.exe']);
      assert.doesNotMatch((await w.page.textContent('#actions')) ?? '', /Invoke-Command|Stop-Process/, 'no preview of a command that does not run');
      // This process ended long ago: the confirmation says it is not corroborated and the server refuses (422).
      await w.page.click('#actions button.approve');
      await w.page.waitForSelector('#actions .confirm');
      const confirm = (await w.page.textContent('#actions .confirm')) ?? '';
      assert.match(confirm, /WS01\.corp\.example PID 6120 C:\\Windows\\System32\\certreq\.exe/);
      assert.match(confirm, /Not corroborated: .*already terminated/);
      await shot(w.page, 'action-confirm-refused-wide');
      await w.page.click('#actions button.confirm-yes');
      await w.page.waitForSelector('#actions .decision-problem');
      assert.match((await w.page.textContent('#actions .decision-problem')) ?? '', /Refused: the target is not corroborated/);
      await w.page.waitForSelector('#actions .action-status.st-failed');
      assert.equal(await w.page.$('#actions button.approve'), null);

      // SRV-ADM01's certreq is still running per the events: verified, approved, run, audited.
      await w.page.goto(`${srv.url}/console/#/alerts/${adm.id}`);
      await w.page.waitForSelector('#actions button.approve');
      await w.page.click('#actions button.approve');
      await w.page.waitForSelector('#actions .confirm .verified');
      assert.match((await w.page.textContent('#actions .confirm')) ?? '', /SRV-ADM01\.corp\.example PID 4188 .*Verified: process start observed: Sysmon 1 record 77001/);
      await w.page.fill('#actions .confirm input', 'confirmed -submit to an unknown CA');
      await shot(w.page, 'action-confirm-wide');
      await w.page.click('#actions button.confirm-yes');
      await w.page.waitForSelector('#actions .action-status.st-succeeded', { timeout: 15_000 });
      const recorded = readFileSync(argvLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
      assert.deepEqual(recorded, [expected.slice(2)], 'the script ran once, with exactly the argv the console showed');
      const card = (await w.page.textContent('#actions .action-card')) ?? '';
      assert.match(card, /Exit code0/);
      assert.match(card, /would stop certreq \(4188\) on SRV-ADM01\.corp\.example/);
      await w.page.waitForFunction(() => /action\.succeeded/.test(document.querySelector('#actions .action-audit')?.textContent ?? ''));
      const trail = (await w.page.textContent('#actions .action-audit')) ?? '';
      assert.match(trail, /action\.approved by responder reason: confirmed -submit to an unknown CA/);
      // The alert's own Audit section shows the approval and the run (they are recorded against the action).
      await w.page.reload();
      await w.page.waitForSelector('#audit li');
      const alertAudit = (await w.page.textContent('#audit')) ?? '';
      assert.match(alertAudit, /action\.approved by responder/);
      assert.match(alertAudit, /action\.succeeded by procwatch/);
      await noSidewaysScroll(w.page, 'alert with actions wide');
      await w.page.locator('#actions').scrollIntoViewIfNeeded();
      await shot(w.page, 'alert-actions-wide');

      // Decided meanwhile: the confirmation is open while another request rejects it, then 409 is explained.
      const ws02 = await alertId('198.51.100.7', 'WS02.corp.example');
      const a2 = await actionOf(ws02.id);
      await w.page.goto(`${srv.url}/console/#/actions/${a2.id}`);
      await w.page.waitForSelector('.action-card button.reject');
      await w.page.click('.action-card button.reject');
      await w.page.waitForSelector('.action-card .confirm');
      const rej = await fetch(`${srv.url}/api/actions/${a2.id}/reject`, { method: 'POST', headers: { authorization: `Bearer ${RESPOND_TOKEN}` }, body: '{}' });
      assert.equal(rej.status, 200);
      await w.page.click('.action-card button.confirm-yes');
      await w.page.waitForSelector('.action-card .decision-problem');
      assert.match((await w.page.textContent('.action-card .decision-problem')) ?? '', /someone decided this action meanwhile/);
      await w.page.waitForSelector('.action-card .action-status.st-rejected');

      // The list: filter by status, open an action.
      await w.page.goto(`${srv.url}/console/#/actions?status=succeeded`);
      await w.page.waitForSelector('table.actions tbody tr');
      assert.equal(await w.page.$$eval('table.actions tbody tr', (r) => r.length), 1);
      await shot(w.page, 'actions-wide');
      await w.page.click('table.actions tbody tr a:has-text("stop-certreq")');
      await w.page.waitForSelector('.action-detail .action-status.st-succeeded');
      await w.page.waitForSelector('.action-detail .action-audit li');
      await shot(w.page, 'action-wide');
      // The refused decisions (422, 409) were expected; the browser logs each as a failed resource load too.
      const unexpected = w.errors.filter((e) => !/^(409|422) .*\/api\/actions\/[0-9a-f]+\/(approve|reject)$/.test(e) && !/status of (409|422) /.test(e));
      assert.equal(w.errors.length - unexpected.length, 4, w.errors.join('\n'));
      assert.deepEqual(unexpected, []);
    } finally {
      await w.ctx.close();
    }

    // Narrow: the same views fit, and the confirmation opens and cancels.
    const n = await open(NARROW, true, RESPOND_TOKEN);
    try {
      await n.page.goto(`${srv.url}/console/#/alerts/${adm.id}`);
      await n.page.waitForSelector('#actions .action-status.st-succeeded');
      await n.page.waitForSelector('#audit li');
      await n.page.locator('#actions').scrollIntoViewIfNeeded();
      await noSidewaysScroll(n.page, 'alert with actions narrow');
      await shot(n.page, 'alert-actions-narrow');
      const ws04 = await alertId('files.attacker.example', 'WS04.corp.example');
      const a4 = await actionOf(ws04.id);
      await n.page.goto(`${srv.url}/console/#/actions/${a4.id}`);
      await n.page.click('.action-card button.approve');
      await n.page.waitForSelector('.action-card .confirm');
      await noSidewaysScroll(n.page, 'confirmation narrow');
      await shot(n.page, 'action-confirm-narrow');
      await n.page.click('.action-card .confirm button:has-text("Cancel")');
      await n.page.waitForSelector('.action-card button.approve');
      await n.page.goto(`${srv.url}/console/#/actions`);
      await n.page.waitForSelector('table.actions tbody tr');
      await noSidewaysScroll(n.page, 'actions narrow');
      await shot(n.page, 'actions-narrow');
      assert.deepEqual(n.errors, []);
    } finally {
      await n.ctx.close();
    }
  });

  test('a read-only token sees no approve/reject and no status form; the header names it', async () => {
    const ws04 = await alertId('files.attacker.example', 'WS04.corp.example');
    for (const [vp, tag] of [[WIDE, 'wide'], [NARROW, 'narrow']] as const) {
      const w = await open(vp, true, READ_TOKEN);
      try {
        await w.page.goto(`${srv.url}/console/#/alerts/${ws04.id}`);
        await w.page.waitForSelector('#actions .action-card .argv li');
        assert.match((await w.page.textContent('header.top .me')) ?? '', /viewer\s*read/);
        assert.equal(await w.page.$('button.approve, button.reject'), null, 'no decision buttons without respond');
        assert.match((await w.page.textContent('#actions')) ?? '', /Awaiting approval by a token with the respond scope/);
        assert.equal(await w.page.$('#status form'), null, 'no status form without triage');
        await noSidewaysScroll(w.page, `read-only alert ${tag}`);
        await shot(w.page, `readonly-${tag}`);
        assert.deepEqual(w.errors, []);
      } finally {
        await w.ctx.close();
      }
    }
  });
});
