/**
 * Alert forwarding where the alerts are made elsewhere than the HTTP node: `serve --nats` + a `worker` on real
 * NATS JetStream and PostgreSQL. The worker stores the alert with its forward in one transaction; the
 * termination event the worker handles later is forwarded as an update (Elasticsearch `index`, same `_id`).
 * The same story on the embedded SQLite store checks the context-update path of a single `serve`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { connect } from 'nats';
import { startServer } from '../../src/cli/startServer.js';
import { defaultConfig, type ServeConfig } from '../../src/service/config.js';
import { parseForwards } from '../../src/forward/config.js';
import { EventWorker } from '../../src/distribute/worker.js';
import { PostgresStore } from '../../src/store/index.js';
import { AUTH, TOKEN, receiver, until } from '../server/support/http.js';
import { ndjson, sysmonEnd, sysmonStart } from '../server/support/liveEvents.js';
import { NATS_URL, PG_URL, requireNats, requirePostgres, uniqueName } from './support/services.js';

const dirs: string[] = [];
const schemas: string[] = [];
const streams: string[] = [];
before(async () => {
  await requirePostgres();
  await requireNats();
});
after(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  for (const s of schemas) await db.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => {});
  await db.end();
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  for (const s of streams) await jsm.streams.delete(s).catch(() => {});
  await nc.close();
});

interface Op {
  op: string;
  id: string;
  lifetime: { still_running: boolean };
}

/** An Elasticsearch-like _bulk receiver recording (op, _id, procwatch.lifetime) of every item. */
async function bulkSink() {
  const ops: Op[] = [];
  const r = await receiver((_n, req, res) => {
    assert.equal(req.url, '/_bulk');
    const lines = req.body.trimEnd().split('\n');
    const items: unknown[] = [];
    for (let i = 0; i < lines.length; i += 2) {
      const action = JSON.parse(lines[i]!) as Record<string, { _id: string; _index: string }>;
      const op = Object.keys(action)[0]!;
      const doc = JSON.parse(lines[i + 1]!) as { procwatch: { lifetime: Op['lifetime'] } };
      ops.push({ op, id: action[op]!._id, lifetime: doc.procwatch.lifetime });
      items.push({ [op]: { _index: action[op]!._index, _id: action[op]!._id, status: op === 'create' ? 201 : 200 } });
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ took: 1, errors: false, items }));
  });
  return { ...r, ops };
}

async function story(cfg: ServeConfig, url: string, ops: Op[], host: string): Promise<void> {
  const send = async (docs: unknown[]): Promise<void> => {
    const res = await fetch(`${url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson(docs) });
    assert.equal(res.status, 200);
  };
  const start = { host, time: '2026-05-04T08:00:00.0000000Z', guid: '84453EAB-0009-0002-0003-000000000D01', pid: 6200, parentGuid: '84453EAB-0009-0002-0003-000000000D00', ppid: 700 };
  await send([sysmonStart(start)]);
  await until(() => ops.length >= 1, 20_000, 'the new alert forwarded');
  assert.equal(ops[0]!.op, 'create');
  assert.equal(ops[0]!.lifetime.still_running, true);
  await send([sysmonEnd({ host, time: '2026-05-04T08:00:02.0000000Z', guid: start.guid, pid: start.pid })]);
  await until(() => ops.length >= 2, 20_000, 'the update forwarded');
  assert.equal(ops[1]!.op, 'index');
  assert.equal(ops[1]!.id, ops[0]!.id, 'the same document, replaced');
  assert.equal(ops[1]!.lifetime.still_running, false);
  assert.equal(cfg.forwards.length, 1);
}

test('serve (SQLite): context from a later event is forwarded as an update of the same alert', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-fwd-ctx-'));
  dirs.push(dataDir);
  const es = await bulkSink();
  t.after(() => es.close());
  const cfg: ServeConfig = { ...defaultConfig(), port: 0, dataDir, tokens: [{ name: 'analyst', token: TOKEN }], forwards: parseForwards([{ name: 'es', kind: 'elasticsearch', address: es.url }], dataDir) };
  const srv = await startServer(cfg, { notice: () => {} });
  t.after(() => srv.close());
  await story(cfg, srv.url, es.ops, 'FWD-CTX');
});

test('serve --nats + worker: the worker plans the forward with the alert and forwards its later context', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-fwd-nats-'));
  dirs.push(dataDir);
  const schema = uniqueName('pw_fwd');
  schemas.push(schema);
  const stream = uniqueName('PWFWD');
  streams.push(stream);
  const es = await bulkSink();
  t.after(() => es.close());
  const nats = { url: NATS_URL, stream, partitions: 2, ackWaitMs: 30_000, maxBytes: -1 };
  const cfg: ServeConfig = {
    ...defaultConfig(),
    port: 0,
    dataDir,
    tokens: [{ name: 'analyst', token: TOKEN }],
    store: { url: PG_URL, schema },
    nats,
    forwards: parseForwards([{ name: 'es', kind: 'elasticsearch', address: es.url }], dataDir),
  };
  const srv = await startServer(cfg, { notice: () => {} });
  const workerStore = new PostgresStore({ url: PG_URL, schema });
  const worker = await EventWorker.start({ config: cfg, nats, store: workerStore, notice: () => {} });
  try {
    await story(cfg, srv.url, es.ops, 'FWD-NATS');
    const actions = await srv.store.listActions({ limit: 10, offset: 0 });
    const forwards = actions.items.filter((a) => a.kind === 'forward');
    assert.equal(forwards.length, 2);
    await until(async () => (await srv.store.listActions({ limit: 10, offset: 0 })).items.every((a) => a.status === 'succeeded'), 10_000, 'recorded');
  } finally {
    await worker.stop();
    await workerStore.close();
    await srv.close();
  }
});
