/**
 * Containment from an incident, in a real browser (Debian's chromium via playwright-core) against a real
 * `serve`: a responder asks the AppLocker policy from the incident view, sees the action run and can download
 * the policy (audit only); a read-only token sees the action but no button.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/cli/startServer.js';
import { defaultConfig } from '../../src/service/config.js';
import { parseWorkflows } from '../../src/respond/config.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { needs, TOOLS } from '../helpers/requirements.js';
import { AUTH, TOKEN } from './support/http.js';
import { ndjson, sysmonProcessCreate } from './support/events.js';

interface BrowserStorage {
  setItem(key: string, value: string): void;
}
declare const sessionStorage: BrowserStorage;

const browserNeeded = needs('chromium');
const RESPONDER = 'responder-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789abcdef';
const PKI_OPERATORS = 'S-1-5-21-1004336348-1177238915-682003330-1234';

let srv: RunningServer;
let browser: Browser | undefined;
let dataDir = '';
let incidentId = '';

before(async () => {
  if (browserNeeded.skip) return;
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-console.mjs')], { stdio: 'inherit' });
  dataDir = mkdtempSync(join(tmpdir(), 'pw-containment-e2e-'));
  srv = await startServer(
    {
      ...defaultConfig(),
      port: 0,
      dataDir,
      workflows: parseWorkflows([{ name: 'lock-certreq', type: 'applocker_policy', trigger: 'incident', allow: [PKI_OPERATORS] }]),
      tokens: [
        { name: 'shipper', token: TOKEN, scopes: ['ingest', 'read'] },
        { name: 'responder', token: RESPONDER, scopes: ['respond'] },
        { name: 'viewer', token: VIEWER, scopes: ['read'] },
      ],
    },
    { notice: () => {} },
  );
  const r = await fetch(`${srv.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson([sysmonProcessCreate({ recordId: 9301, host: 'LAB09' })]) });
  assert.equal(r.status, 200);
  incidentId = (await srv.store.listIncidents({ limit: 1, offset: 0 })).items[0]!.id;
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: TOOLS.chromium, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
});

after(async () => {
  await browser?.close();
  await srv?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function incidentView(token: string): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
  const ctx = await browser!.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  await ctx.addInitScript((t: string) => sessionStorage.setItem('procwatch.token', t), token);
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });
  await page.goto(`${srv.url}/console/#/incidents/${incidentId}`);
  await page.waitForSelector('#incident-containment');
  return { page, errors, close: () => ctx.close() };
}

describe('console: containment from an incident', browserNeeded, () => {
  test('a responder asks the AppLocker policy, sees it run and downloads it (audit only)', async () => {
    const { page, errors, close } = await incidentView(RESPONDER);
    try {
      await page.click('#incident-containment button.ask-policy[data-workflow="lock-certreq"]');
      await page.waitForSelector('#incident-containment button.download-policy', { timeout: 15_000 });
      assert.match((await page.textContent('#incident-containment button.download-policy')) ?? '', /audit only/);
      assert.equal(await page.$('#incident-containment button.ask-policy'), null, 'asked once: the button is gone');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#incident-containment button.download-policy')]);
      assert.equal(download.suggestedFilename(), 'procwatch-certreq-applocker.xml');
      const xml = readFileSync((await download.path())!, 'utf8');
      assert.match(xml, /EnforcementMode="AuditOnly"/);
      assert.ok(xml.includes(PKI_OPERATORS));
      const actions = (await srv.store.listActions({ limit: 10, offset: 0 })).items.filter((a) => a.kind === 'applocker_policy');
      assert.equal(actions.length, 1);
      assert.equal(actions[0]!.request.incident_id, incidentId);
      assert.deepEqual(errors, []);
    } finally {
      await close();
    }
  });

  test('a read-only token sees the action but no button', async () => {
    const { page, errors, close } = await incidentView(VIEWER);
    try {
      await page.waitForSelector('#incident-containment .incident-action');
      assert.equal(await page.$('#incident-containment button.ask-policy'), null);
      assert.deepEqual(errors, []);
    } finally {
      await close();
    }
  });
});
