/**
 * The service core composed by configuration (src/service/compose.ts): without `nats:` the ingest sink is the
 * local Ingestor and its commits feed the alert feed (created alerts, then their later context); with `nats:`
 * it is the JetStream publisher handed in as an adapter, and the feed relays what the store announces —
 * which only a store declaring that capability can do (a SQLite store is refused before NATS is dialled).
 * Real SQLite, PostgreSQL and NATS JetStream.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { composeService } from '../../src/service/compose.js';
import { defaultConfig, type ServeConfig } from '../../src/service/config.js';
import { Ingestor } from '../../src/service/ingest.js';
import type { AlertChange } from '../../src/service/ports.js';
import { alertNotifier } from '../../src/service/ports.js';
import { jetStreamIngest, JetStreamPublisher } from '../../src/distribute/publisher.js';
import { decodeDocument } from '../../src/formats/index.js';
import type { WinEvent } from '../../src/model/event.js';
import { openStore } from '../../src/store/index.js';
import { sysmonEnd, sysmonStart } from '../server/support/liveEvents.js';
import { benign } from '../server/support/events.js';
import { alert, ev } from '../store/support/contract.js';
import { freshStore, NATS_URL, PG_URL, requireNats, requirePostgres, uniqueName } from '../scale/support/services.js';
import { until } from '../server/support/http.js';

const dirs: string[] = [];
const streams: string[] = [];
after(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  if (streams.length === 0) return;
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  for (const s of streams) await jsm.streams.delete(s).catch(() => {});
  await nc.close();
});

function sqliteConfig(): ServeConfig {
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-compose-'));
  dirs.push(dataDir);
  return { ...defaultConfig(), dataDir, rules: { paths: [], builtin: true } };
}

function decoded(doc: Record<string, unknown>): WinEvent {
  return decodeDocument(doc, { file: 'compose-test' }) as WinEvent;
}

test('without nats: the local Ingestor is the sink; its commit announces the alert, a later event its context', async () => {
  const service = await composeService(sqliteConfig(), { notice: () => {} });
  const changes: AlertChange[] = [];
  service.feed.subscribe((c) => changes.push(c));
  try {
    assert.equal(service.mode, 'local');
    assert.ok(service.sink instanceof Ingestor);
    assert.equal(service.sink, service.ingestor);
    const host = 'COMPOSE-LOCAL';
    const start = { host, time: '2026-05-03T08:00:00.0000000Z', guid: '84453EAB-0007-0002-0003-000000000D01', pid: 7100, parentGuid: '84453EAB-0007-0002-0003-000000000D00', ppid: 700 };
    const first = await service.sink.submit([decoded(sysmonStart(start))]);
    assert.equal(first.alerts, 1);
    assert.deepEqual(changes.map((c) => [c.kind, c.rows.length]), [['created', 1]]);
    const stored = await service.store.listAlerts({ limit: 10, offset: 0 });
    assert.equal(changes[0]!.rows[0]!.id, stored.items[0]!.id);
    assert.equal(changes[0]!.rows[0]!.status, 'open');

    await service.sink.submit([decoded(sysmonEnd({ host, time: '2026-05-03T08:00:02.0000000Z', guid: start.guid, pid: start.pid }))]);
    const update = changes.find((c) => c.kind === 'updated');
    assert.ok(update, 'the termination is announced as an update of the stored alert');
    assert.equal(update.rows[0]!.id, stored.items[0]!.id);
    const lifetime = (update.rows[0]!.doc.procwatch as { lifetime: { still_running: boolean; duration_ms: number } }).lifetime;
    assert.deepEqual([lifetime.still_running, lifetime.duration_ms], [false, 2000]);
  } finally {
    await service.close();
  }
});

test('nats with a store that does not announce commits (SQLite) is refused before NATS is dialled', async () => {
  const config = { ...sqliteConfig(), nats: { url: 'nats://127.0.0.1:1', stream: 'never', ackWaitMs: 30_000, maxBytes: -1 } };
  const store = openStore({ dataDir: config.dataDir });
  assert.equal(alertNotifier(store), undefined);
  let dialled = false;
  try {
    await assert.rejects(
      composeService(config, {
        notice: () => {},
        store,
        adapters: {
          jetstream: async () => {
            dialled = true;
            throw new Error('not reached');
          },
        },
      }),
      /does not announce committed alerts/,
    );
    assert.equal(dialled, false);
  } finally {
    await store.close();
  }
});

test('nats + PostgreSQL: the JetStream publisher is the sink, no Ingestor; the feed relays alerts other processes commit', async () => {
  await requirePostgres();
  await requireNats();
  const schema = uniqueName('pw_compose');
  const stream = uniqueName('PWCOMPOSE');
  streams.push(stream);
  const db = await freshStore(schema);
  const config: ServeConfig = { ...sqliteConfig(), store: { url: PG_URL, schema }, nats: { url: NATS_URL, stream, partitions: 2, ackWaitMs: 30_000, maxBytes: -1 } };
  const service = await composeService(config, { notice: () => {}, adapters: { jetstream: jetStreamIngest } });
  const changes: AlertChange[] = [];
  service.feed.subscribe((c) => changes.push(c));
  try {
    assert.equal(service.mode, 'jetstream');
    assert.ok(service.sink instanceof JetStreamPublisher);
    assert.equal(service.ingestor, undefined);
    const out = await service.sink.submit([decoded(benign(1, 'COMPOSE-NATS')), decoded(benign(2, 'COMPOSE-NATS'))]);
    assert.deepEqual(out, { received: 2, stored: 2, duplicates: 0, alerts: 0 });
    assert.equal((await db.counts()).events, 0, 'published, not committed: the workers commit');

    // A worker (another process's pool on the same schema) commits an alert: the serve node hears of it.
    await db.commit([ev('1', 'COMPOSE-NATS')], { alerts: [alert('relayed-1', '1', { host: 'COMPOSE-NATS' })], actions: [] });
    await until(() => changes.some((c) => c.kind === 'created' && c.rows.some((r) => r.id === 'relayed-1')), 10_000, 'the relayed alert');
  } finally {
    await service.close();
    await db.drop();
  }
});
