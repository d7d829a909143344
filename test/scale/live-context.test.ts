/**
 * Alerts completed by later events on the PostgreSQL store: `serve --store postgres` alone, and scale-out
 * (`serve --nats` + a `worker`, real NATS JetStream and PostgreSQL): the worker updates the stored alert and
 * the serve node streams the update it hears from PostgreSQL (LISTEN/NOTIFY).
 */
import { after, before, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { connect } from 'nats';
import { startServer } from '../../src/cli/startServer.js';
import { defaultConfig, type ServeConfig } from '../../src/service/config.js';
import { EventWorker } from '../../src/distribute/worker.js';
import { PostgresStore } from '../../src/store/index.js';
import assert from 'node:assert/strict';
import { AUTH, TOKEN, until } from '../server/support/http.js';
import { ndjson, sysmonEnd, sysmonStart } from '../server/support/liveEvents.js';
import { securityStory, sysmonStory } from '../server/support/liveScenario.js';
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

function config(schema: string): ServeConfig {
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-live-pg-'));
  dirs.push(dataDir);
  schemas.push(schema);
  return { ...defaultConfig(), port: 0, dataDir, tokens: [{ name: 'analyst', token: TOKEN }], store: { url: PG_URL, schema } };
}

test('serve --store postgres: later termination, child and network events complete the stored alert', async () => {
  const srv = await startServer(config(uniqueName('pw_live')), { notice: () => {} });
  try {
    const t = { url: srv.url, headers: AUTH, suffix: 'PG' };
    await sysmonStory(t);
    await securityStory(t);
  } finally {
    await srv.close();
  }
});

test('serve --nats + worker: the worker updates the alert in PostgreSQL and the serve node streams alert-updated', async () => {
  const schema = uniqueName('pw_live_nats');
  const stream = uniqueName('PWLIVE');
  streams.push(stream);
  const nats = { url: NATS_URL, stream, partitions: 2, ackWaitMs: 30_000, maxBytes: -1 };
  const cfg: ServeConfig = { ...config(schema), nats };
  const srv = await startServer(cfg, { notice: () => {} });
  const workerStore = new PostgresStore({ url: PG_URL, schema });
  let worker = await EventWorker.start({ config: cfg, nats, store: workerStore, notice: () => {} });
  try {
    const t = { url: srv.url, headers: AUTH, suffix: 'NATS' };
    await sysmonStory(t);
    await securityStory(t);

    // A worker restarted between an alert and its termination rebuilds its state from PostgreSQL and still
    // completes the alert.
    const host = 'RESTART-NATS';
    const start = { host, time: '2026-05-03T08:00:00.0000000Z', guid: '84453EAB-0007-0002-0003-000000000C01', pid: 6100, parentGuid: '84453EAB-0007-0002-0003-000000000C00', ppid: 700 };
    const send = (docs: unknown[]): Promise<Response> => fetch(`${srv.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson(docs) });
    await send([sysmonStart(start)]);
    let id = '';
    await until(async () => {
      const list = (await (await fetch(`${srv.url}/api/alerts?host=${host}&rule=certreq-download-upload`, { headers: AUTH })).json()) as { items: { id: string }[] };
      id = list.items[0]?.id ?? '';
      return id !== '';
    }, 20_000, 'the alert before the restart');
    await worker.stop();
    worker = await EventWorker.start({ config: cfg, nats, store: workerStore, notice: () => {} });
    await send([sysmonEnd({ host, time: '2026-05-03T08:00:01.0000000Z', guid: start.guid, pid: start.pid })]);
    await until(async () => {
      const d = (await (await fetch(`${srv.url}/api/alerts/${id}`, { headers: AUTH })).json()) as { alert: { procwatch: { lifetime: { still_running: boolean } } } };
      return d.alert.procwatch.lifetime.still_running === false;
    }, 20_000, 'the restarted worker to complete the alert');
    const d = (await (await fetch(`${srv.url}/api/alerts/${id}`, { headers: AUTH })).json()) as { alert: { procwatch: { lifetime: { duration_ms: number } } } };
    assert.equal(d.alert.procwatch.lifetime.duration_ms, 1000);
  } finally {
    await worker.stop();
    await workerStore.close();
    await srv.close();
  }
});
