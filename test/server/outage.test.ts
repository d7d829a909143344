/**
 * Alerts follow commits under real failures: a full disk under a real `procwatch serve` (SQLite on a small
 * tmpfs) and a PostgreSQL server stopped mid-ingest (a throwaway instance of the test's own). Batches the store
 * could not commit are answered 503; once the store is back, their retry stores every event and raises every
 * alert, exactly once. Skipped, with the reason, where the machine cannot provide the failure (root, tmpfs
 * mounts, PostgreSQL binaries).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/cli/startServer.js';
import { defaultConfig } from '../../src/service/config.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { AUTH, TOKEN, json } from './support/http.js';
import { benign, ndjson, sysmonProcessCreate } from './support/events.js';
import { mountTmpfs, throwawayPostgres } from './support/faults.js';

interface Batch {
  body: string;
  matching: number[];
}

function batches(host: string, count: number, size = 100): Batch[] {
  const out: Batch[] = [];
  for (let b = 0; b < count; b++) {
    const docs: Record<string, unknown>[] = [];
    const matching: number[] = [];
    for (let i = 0; i < size; i++) {
      const recordId = b * size + i + 1;
      if (recordId % 10 === 0) {
        docs.push(sysmonProcessCreate({ recordId, host }));
        matching.push(recordId);
      } else docs.push(benign(recordId, host));
    }
    out.push({ body: ndjson(docs), matching });
  }
  return out;
}

async function send(url: string, b: Batch): Promise<number> {
  const r = await fetch(`${url}/ingest`, { method: 'POST', headers: AUTH, body: b.body });
  const text = await r.text();
  if (r.status === 503) assert.match(text, /not committed, retry/);
  return r.status;
}

/** Retries a batch until it is committed (the store is back), as a shipper does after a 503. */
async function retry(url: string, b: Batch): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const status = await send(url, b);
    if (status === 200) return;
    assert.equal(status, 503, "a batch the store cannot take is answered 503");
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail('the batch was never committed after the store came back');
}

/** Record id → number of stored alerts for it, through the API. */
async function alertCounts(url: string, host: string): Promise<Map<number, number>> {
  const seen = new Map<number, number>();
  for (let offset = 0; ; offset += 1000) {
    const page = (await json(await fetch(`${url}/api/alerts?host=${host}&limit=1000&offset=${offset}`, { headers: AUTH }))) as {
      items: { alert: { winlog: { record_id: number } } }[];
    };
    for (const a of page.items) seen.set(a.alert.winlog.record_id, (seen.get(a.alert.winlog.record_id) ?? 0) + 1);
    if (page.items.length < 1000) return seen;
  }
}

function assertEveryAlertOnce(seen: Map<number, number>, sent: Batch[]): void {
  const expected = sent.flatMap((b) => b.matching);
  assert.equal(seen.size, expected.length, `${expected.length - seen.size} alerts missing`);
  for (const r of expected) assert.equal(seen.get(r), 1, `alert of record ${r} stored exactly once`);
}

/**
 * Starts serve in a child process whose stderr is a file (`logFile`): on the same volume as the store, a full
 * disk hits the logger too — the failure that used to end the service (an uncaught ENOSPC from a log write).
 */
async function startServeChild(dataDir: string, logFile: string): Promise<{ child: ChildProcess; url: string }> {
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/server/support/serveChild.ts', '--port', '0', '--data', dataDir, '--token', TOKEN], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', log],
  });
  closeSync(log);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const text = readFileSync(logFile, 'utf8');
    const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(text);
    if (m) return { child, url: m[1]! };
    if (exited !== undefined) throw new Error(`server exited (${exited}) before listening: ${text}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start within 60 s: ${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Fills the file system holding `path` until it has no space left; returns the bytes written. */
function fill(path: string): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 1 << 12, 512]) {
      const chunk = Buffer.alloc(size, 0x55);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

test('full disk under a real serve (SQLite on a tmpfs): 503 while full, every alert stored once after space is freed', { timeout: 180_000 }, async (t) => {
  const fs = mountTmpfs(64);
  if (typeof fs === 'string') return t.skip(fs);
  let child: ChildProcess | undefined;
  try {
    const started = await startServeChild(fs.dir, join(fs.dir, 'serve.log'));
    child = started.child;
    const url = started.url;
    const sent = batches('DISK01', 24);
    for (const b of sent.slice(0, 4)) assert.equal(await send(url, b), 200);

    const filler = join(fs.dir, 'filler');
    assert.ok(fill(filler) > 0);
    const failed: Batch[] = [];
    for (const b of sent.slice(4)) {
      const status = await send(url, b);
      assert.ok(status === 200 || status === 503, `status ${status}`);
      if (status === 503) failed.push(b);
    }
    assert.ok(failed.length > 0, 'the full disk made commits fail');
    const metrics = await (await fetch(`${url}/metrics`, { headers: AUTH })).text();
    assert.match(metrics, /procwatch_log_lines_dropped [1-9]/, 'the commit failure was logged to the full disk, and that write failed');

    rmSync(filler);
    for (const b of failed) await retry(url, b);
    // A shipper re-sending everything: nothing is stored or alerted twice.
    for (const b of sent) assert.equal(await send(url, b), 200);
    assertEveryAlertOnce(await alertCounts(url, 'DISK01'), sent);
    assert.equal(child.exitCode, null, 'log writes that failed on the full disk did not end the service');
  } finally {
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    fs.unmount();
  }
});

test('PostgreSQL stopped mid-ingest (a throwaway server): 503 while down, every alert stored once after it is back', { timeout: 180_000 }, async (t) => {
  const pg = await throwawayPostgres();
  if (typeof pg === 'string') return t.skip(pg);
  try {
    const config = { ...defaultConfig(), port: 0, dataDir: mkdtempSync(join(tmpdir(), 'pw-outage-')), tokens: [{ name: 'a', token: TOKEN }], store: { url: pg.url, schema: 'pw_outage' } };
    const srv = await startServer(config, { notice: () => {} });
    try {
      const sent = batches('PGDOWN01', 12);
      for (const b of sent.slice(0, 4)) assert.equal(await send(srv.url, b), 200);
      pg.stop();
      const failed: Batch[] = [];
      for (const b of sent.slice(4)) {
        const status = await send(srv.url, b);
        assert.equal(status, 503, 'PostgreSQL is down: not committed');
        failed.push(b);
      }
      pg.start();
      for (const b of failed) await retry(srv.url, b);
      for (const b of sent) assert.equal(await send(srv.url, b), 200);
      assertEveryAlertOnce(await alertCounts(srv.url, 'PGDOWN01'), sent);
    } finally {
      await srv.close();
    }
  } finally {
    pg.destroy();
  }
});
