/**
 * "Nothing lost": the server runs as a child process (the real CLI), takes sustained ingest from several
 * concurrent senders, and is killed with SIGKILL mid-stream. Every batch it acknowledged must be on disk with
 * its alerts; after a restart, re-sending every batch (acknowledged or not) must leave each alert exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/index.js';
import { storedKey } from '../../src/service/ingest.js';
import { decodeDocument } from '../../src/formats/index.js';
import type { WinEvent } from '../../src/model/event.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { AUTH, TOKEN } from './support/http.js';
import { benign, ndjson, sysmonProcessCreate } from './support/events.js';

const BATCH = 100;
const SENDERS = 4;
const HOST = 'CRASH01';

interface Batch {
  docs: Record<string, unknown>[];
  matching: number[];
}

function makeBatch(first: number): Batch {
  const docs: Record<string, unknown>[] = [];
  const matching: number[] = [];
  for (let i = 0; i < BATCH; i++) {
    const recordId = first + i;
    if (recordId % 10 === 0) {
      docs.push(sysmonProcessCreate({ recordId, host: HOST }));
      matching.push(recordId);
    } else {
      docs.push(benign(recordId, HOST));
    }
  }
  return { docs, matching };
}

async function startChild(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/server/support/serveChild.ts', '--port', '0', '--data', dataDir, '--token', TOKEN], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // a child left running would keep this test process alive
      reject(new Error(`server did not start within 60 s: ${err}`));
    }, 60_000);
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before listening: ${err}`)));
  });
  return { child, url };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

function decoded(doc: Record<string, unknown>): WinEvent {
  const r = decodeDocument(doc, { file: 'test' });
  assert.ok('system' in r, `decodes: ${JSON.stringify(r)}`);
  return r;
}

test('SIGKILL during sustained ingest: every acknowledged event and alert survives; re-sending makes no duplicate', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-crash-'));
  try {
    let { child, url } = await startChild(dataDir);
    const sent: Batch[] = [];
    const acked: Batch[] = [];
    let next = 1;
    let killed = false;
    const sender = async (): Promise<void> => {
      while (!killed) {
        const batch = makeBatch(next);
        next += BATCH;
        sent.push(batch);
        try {
          const r = await fetch(`${url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson(batch.docs) });
          if (r.status === 200) acked.push(batch);
          else if (r.status !== 429) assert.fail(`unexpected ${r.status}: ${await r.text()}`);
        } catch {
          return; // the server died under us: this batch may or may not be stored
        }
      }
    };
    const senders = Array.from({ length: SENDERS }, () => sender());
    // Kill once a good number of batches is acknowledged, while requests are still in flight.
    while (acked.length < 30) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    killed = true;
    assert.equal((await exited(child)).signal, 'SIGKILL');
    await Promise.all(senders);
    assert.ok(sent.length > acked.length, 'some batches were in flight when the server died');

    // 1. Straight from the disk: every acknowledged event is there, and the alert of every acknowledged match.
    const store = new SqliteStore({ path: join(dataDir, 'procwatch.db') });
    for (const b of acked) for (const d of b.docs) assert.ok(await store.hasEvent(storedKey(decoded(d))), 'acknowledged event stored');
    const alertRecords = new Map<number, number>();
    for (let offset = 0; ; offset += 1000) {
      const page = await store.listAlerts({ limit: 1000, offset });
      for (const a of page.items) {
        const rec = (a.doc.winlog as { record_id: number }).record_id;
        alertRecords.set(rec, (alertRecords.get(rec) ?? 0) + 1);
      }
      if (page.items.length < 1000) break;
    }
    for (const b of acked) for (const m of b.matching) assert.equal(alertRecords.get(m), 1, `alert for acknowledged record ${m}`);
    await store.close();

    // 2. Restart, re-send everything (what a shipper does after a failure), and count alerts through the API.
    ({ child, url } = await startChild(dataDir));
    for (const b of sent) {
      const r = await fetch(`${url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson(b.docs) });
      assert.equal(r.status, 200);
    }
    const expected = new Set(sent.flatMap((b) => b.matching));
    const seen = new Map<number, number>();
    let total = -1;
    for (let offset = 0; total < 0 || offset < total; offset += 1000) {
      const page = (await (await fetch(`${url}/api/alerts?host=${HOST}&limit=1000&offset=${offset}`, { headers: AUTH })).json()) as {
        total: number;
        items: { alert: { winlog: { record_id: number } } }[];
      };
      total = page.total;
      for (const i of page.items) seen.set(i.alert.winlog.record_id, (seen.get(i.alert.winlog.record_id) ?? 0) + 1);
    }
    assert.equal(total, expected.size, 'one alert per matching event, no more');
    for (const rec of expected) assert.equal(seen.get(rec), 1, `record ${rec} alerted exactly once`);

    child.kill('SIGTERM');
    assert.equal((await exited(child)).code, 0, 'graceful shutdown on SIGTERM');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
