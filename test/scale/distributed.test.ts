// Scale-out end to end on the real engines: `serve --nats --store postgres` publishes, two `worker`
// processes detect and commit; a worker killed with SIGKILL mid-stream loses and duplicates nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import pg from 'pg';
import { partitionOf } from '../../src/distribute/partition.js';
import { consumerFor } from '../../src/distribute/stream.js';
import { benign, ndjson, sysmonProcessCreate } from '../server/support/events.js';
import { AUTH, TOKEN, until } from '../server/support/http.js';
import { NATS_URL, PG_URL, requireNats, requirePostgres, uniqueName } from './support/services.js';
import { startCli, stop, type Child } from './support/procs.js';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

const PARTITIONS = 4;
const SCHEMA = uniqueName('pw_e2e');
const STREAM = uniqueName('PWTEST');
const STORE_URL = `${PG_URL}?schema=${SCHEMA}`;
const HOSTS = Array.from({ length: 8 }, (_, i) => `HOST${String(i + 1).padStart(2, '0')}.corp.example`);
const dataDir = mkdtempSync(join(tmpdir(), 'pw-scale-'));

let nc: NatsConnection;
let jsm: JetStreamManager;
let db: pg.Client;
let serve: Child;
let baseUrl: string;
const workers: Child[] = [];

function worker(partitions: string, env: NodeJS.ProcessEnv = {}, extra: string[] = []): Child {
  const w = startCli(['worker', '--nats', NATS_URL, '--store', STORE_URL, '--nats-stream', STREAM, '--partitions', partitions, '--ack-wait', '2000', ...extra], env);
  workers.push(w);
  return w;
}

async function count(sql: string): Promise<number> {
  return Number((await db.query(sql)).rows[0].n);
}

/** Every published batch acknowledged by a worker (work-queue stream empty, nothing pending). */
async function streamDrained(timeoutMs = 20_000): Promise<void> {
  await until(async () => (await jsm.streams.info(STREAM)).state.messages === 0, timeoutMs, 'the stream to drain');
}

async function post(body: string): Promise<Response> {
  return fetch(`${baseUrl}/ingest`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/x-ndjson' }, body });
}

/** Collects the ids of `event: alert` messages from the serve node's SSE stream. */
async function subscribe(): Promise<{ ids: string[]; close: () => void }> {
  const ac = new AbortController();
  const res = await fetch(`${baseUrl}/api/stream`, { headers: AUTH, signal: ac.signal });
  assert.equal(res.status, 200);
  const ids: string[] = [];
  const reader = res.body!.getReader();
  void (async () => {
    let text = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += Buffer.from(value).toString('utf8');
        let end: number;
        while ((end = text.indexOf('\n\n')) >= 0) {
          const msg = text.slice(0, end);
          text = text.slice(end + 2);
          const m = /^event: alert\nid: (\S+)/m.exec(msg);
          if (m) ids.push(m[1]!);
        }
      }
    } catch {
      // aborted
    }
  })();
  return { ids, close: () => ac.abort() };
}

let record = 0;
/** `perHost` events for each host; every `alertEvery`-th one is a certreq upload (alerting). */
function batch(perHost: number, alertEvery: number): { body: string; events: number; alerts: number } {
  const docs: unknown[] = [];
  let alerts = 0;
  for (let i = 0; i < perHost; i++) {
    for (const host of HOSTS) {
      record++;
      if (record % alertEvery === 0) {
        docs.push(sysmonProcessCreate({ host, recordId: record }));
        alerts++;
      } else docs.push(benign(record, host));
    }
  }
  return { body: ndjson(docs), events: docs.length, alerts };
}

before(async () => {
  await requirePostgres();
  await requireNats();
  nc = await connect({ servers: NATS_URL });
  jsm = await nc.jetstreamManager();
  db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  // The two workers below own disjoint partitions; the test hosts must land on both.
  const parts = new Set(HOSTS.map((h) => partitionOf(h, PARTITIONS)));
  assert.ok([0, 1].some((p) => parts.has(p)) && [2, 3].some((p) => parts.has(p)), 'test hosts cover both workers');
  serve = startCli(['serve', '--port', '0', '--token', TOKEN, '--data', dataDir, '--store', STORE_URL, '--nats', NATS_URL, '--nats-stream', STREAM, '--partition-count', String(PARTITIONS)]);
  baseUrl = (await serve.waitFor(/listening on (http:\/\/[^\s]+)/))[1]!;
  await Promise.all([worker('0,1', {}, ['--metrics', '0']), worker('2,3')].map((w) => w.waitFor(/consuming partitions/)));
});

after(async () => {
  for (const w of workers) await stop(w, 'SIGKILL');
  await stop(serve, 'SIGKILL');
  await jsm?.streams.delete(STREAM).catch(() => {});
  await nc?.close();
  await db?.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`).catch(() => {});
  await db?.end();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a batch for several hosts is answered after JetStream stored it; workers commit each alert exactly once', async () => {
  const b = batch(25, 5); // 200 events, 40 certreq alerts over 8 hosts
  const stream = await subscribe();
  const res = await post(b.body);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { received: 200, stored: 200, duplicates: 0, alerts: 0, rejected: 0, errors: [] });
  await streamDrained();
  assert.equal(await count(`SELECT count(*) AS n FROM "${SCHEMA}".events`), 200);
  assert.equal(await count(`SELECT count(*) AS n FROM "${SCHEMA}".alerts`), b.alerts);
  assert.equal(await count(`SELECT count(DISTINCT event_key) AS n FROM "${SCHEMA}".alerts`), b.alerts, 'one alert per certreq event');
  // Each host's alerts went to one worker, in order: one incident per host holding all of its alerts.
  const incidents = (await db.query(`SELECT host, alert_count FROM "${SCHEMA}".incidents ORDER BY host`)).rows as { host: string; alert_count: number }[];
  assert.deepEqual(incidents.map((r) => r.host), HOSTS);
  assert.ok(incidents.every((r) => r.alert_count === b.alerts / HOSTS.length), JSON.stringify(incidents));

  // Committed by the workers, announced by PostgreSQL, streamed by the serve node: each alert once.
  await until(() => stream.ids.length >= b.alerts, 10_000, 'alerts on the SSE stream');
  stream.close();
  assert.equal(new Set(stream.ids).size, b.alerts);
  assert.deepEqual(new Set(stream.ids), new Set(((await db.query(`SELECT id FROM "${SCHEMA}".alerts`)).rows as { id: string }[]).map((r) => r.id)));

  // The worker's Prometheus endpoint counts what it committed.
  const metricsUrl = (await workers[0]!.waitFor(/metrics on (http:\/\/\S+)/))[1]!;
  const text = await (await fetch(metricsUrl)).text();
  const value = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  assert.equal(value('procwatch_worker_partitions'), 2);
  const own = HOSTS.filter((h) => partitionOf(h, PARTITIONS) < 2).length;
  assert.equal(value('procwatch_events_stored_total'), 25 * own, 'the events of its hosts');
  assert.equal(value('procwatch_worker_batches_in_flight'), 0);
  // prom-client's exposition: it parses, and carries the process/GC/event-loop defaults beside procwatch's own.
  const families = new Set((parsePrometheusTextFormat(text) as { name: string }[]).map((f) => f.name));
  for (const name of ['procwatch_worker_backlog_messages', 'procwatch_commit_seconds', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds']) {
    assert.ok(families.has(name), name);
  }

  // The serve node's API reads the same store.
  const api = (await (await fetch(`${baseUrl}/api/alerts?host=${HOSTS[0]}&limit=100`, { headers: AUTH })).json()) as { total: number };
  assert.equal(api.total, b.alerts / HOSTS.length);

  // Re-sent: queued again (2xx), and the workers find every event already stored.
  assert.equal((await post(b.body)).status, 200);
  await streamDrained();
  assert.equal(await count(`SELECT count(*) AS n FROM "${SCHEMA}".events`), 200);
  assert.equal(await count(`SELECT count(*) AS n FROM "${SCHEMA}".alerts`), b.alerts);
});

test('a worker killed with SIGKILL mid-stream: a restarted one takes over, nothing lost or duplicated', async () => {
  const before = { events: await count(`SELECT count(*) AS n FROM "${SCHEMA}".events`), alerts: await count(`SELECT count(*) AS n FROM "${SCHEMA}".alerts`) };
  const batches = Array.from({ length: 48 }, () => batch(10, 7)); // 80 events each
  const expected = { events: batches.reduce((n, b) => n + b.events, 0), alerts: batches.reduce((n, b) => n + b.alerts, 0) };
  const victim = workers[0]!;
  let next = 0;
  let killedAt = -1;
  const sender = async (): Promise<void> => {
    while (next < batches.length) {
      const i = next++;
      if (i === 16 && killedAt < 0) {
        // Mid-stream: the victim has been committing (and may hold an unacknowledged batch right now).
        killedAt = i;
        victim.proc.kill('SIGKILL');
      }
      const res = await post(batches[i]!.body);
      assert.equal(res.status, 200, `batch ${i}: ${await res.text()}`);
    }
  };
  await Promise.all([sender(), sender(), sender(), sender()]);
  assert.equal(await victim.exited, 'SIGKILL');
  // With its worker dead, partitions 0 and 1 pile up in the stream (durable: acknowledged to the client).
  const pending = await Promise.all([0, 1].map((p) => jsm.consumers.info(STREAM, consumerFor(STREAM, p))));
  assert.ok(pending.some((c) => c.num_pending + c.num_ack_pending > 0), 'work waits for partitions 0-1');

  const restarted = worker('0,1');
  await restarted.waitFor(/consuming partitions 0,1 of 4/);
  await streamDrained(25_000);
  assert.equal(await count(`SELECT count(*) AS n FROM "${SCHEMA}".events`), before.events + expected.events, 'every acknowledged event stored');
  assert.equal(await count(`SELECT count(*) AS n FROM "${SCHEMA}".alerts`), before.alerts + expected.alerts, 'every alert exactly once');
  assert.equal(await count(`SELECT count(DISTINCT event_key) AS n FROM "${SCHEMA}".alerts`), before.alerts + expected.alerts);
  // Incident counters were widened once per alert, however often a batch was delivered.
  assert.equal(await count(`SELECT sum(alert_count) AS n FROM "${SCHEMA}".incidents`), before.alerts + expected.alerts);
  await stop(restarted, 'SIGTERM');
  assert.equal(await restarted.exited, 0);
  assert.match(restarted.stderr(), /stopped after \d+ batches/);
  if (process.env.PW_SCALE_VERBOSE) process.stderr.write(restarted.stderr());
});

test('a crash after the commit and before the ack: the batch is redelivered and nothing is stored twice', async () => {
  const count0 = { events: await count(`SELECT count(*) AS n FROM "${SCHEMA}".events`), alerts: await count(`SELECT count(*) AS n FROM "${SCHEMA}".alerts`) };
  await stop(workers[1]!, 'SIGTERM'); // partitions 2-3 now only for the faulty worker
  const faulty = worker('2,3', { PROCWATCH_WORKER_FAULT: 'crash-before-ack:1' });
  await Promise.all([faulty.waitFor(/consuming partitions 2,3/), worker('0,1').waitFor(/consuming partitions 0,1/)]);
  const b = batch(10, 4);
  assert.equal((await post(b.body)).status, 200);
  assert.equal(await faulty.exited, 'SIGKILL');
  const after = worker('2,3');
  await after.waitFor(/consuming partitions 2,3/);
  await streamDrained();
  assert.equal(await count(`SELECT count(*) AS n FROM "${SCHEMA}".events`), count0.events + b.events);
  assert.equal(await count(`SELECT count(*) AS n FROM "${SCHEMA}".alerts`), count0.alerts + b.alerts);
  assert.equal(await count(`SELECT sum(alert_count) AS n FROM "${SCHEMA}".incidents`), count0.alerts + b.alerts);
  await stop(after, 'SIGTERM');
  // The redelivered batch was recognised as already committed.
  const stats = /stopped after \d+ batches, \d+ events \(\d+ new, (\d+) duplicates\), \d+ alerts, (\d+) redelivered/.exec(after.stderr());
  assert.ok(stats && Number(stats[1]) > 0 && Number(stats[2]) > 0, after.stderr());
});

test('serve --store postgres without NATS: one node detecting and committing to PostgreSQL', async () => {
  const schema = uniqueName('pw_e2e1');
  const single = startCli(['serve', '--port', '0', '--token', TOKEN, '--data', dataDir, '--store', `${PG_URL}?schema=${schema}`]);
  try {
    const url = (await single.waitFor(/listening on (http:\/\/[^\s]+)/))[1]!;
    const b = batch(5, 4);
    const send = async (): Promise<Record<string, unknown>> =>
      (await (await fetch(`${url}/ingest`, { method: 'POST', headers: AUTH, body: b.body })).json()) as Record<string, unknown>;
    assert.deepEqual(await send(), { received: b.events, stored: b.events, duplicates: 0, alerts: b.alerts, rejected: 0, errors: [] });
    assert.deepEqual(await send(), { received: b.events, stored: 0, duplicates: b.events, alerts: 0, rejected: 0, errors: [] });
    assert.equal(await count(`SELECT count(*) AS n FROM "${schema}".alerts`), b.alerts);
    await stop(single, 'SIGTERM');
    assert.equal(await single.exited, 0);
  } finally {
    await stop(single, 'SIGKILL');
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
});

test('misconfiguration is a usage error naming what is missing or unreachable', async () => {
  const noStore = startCli(['serve', '--port', '0', '--token', TOKEN, '--data', dataDir, '--nats', NATS_URL]);
  assert.equal(await noStore.exited, 2);
  assert.match(noStore.stderr(), /--nats needs the shared store: --store postgres/);
  const noNats = startCli(['worker', '--store', STORE_URL]);
  assert.equal(await noNats.exited, 2);
  assert.match(noNats.stderr(), /needs --nats/);
  const deadNats = startCli(['worker', '--store', STORE_URL, '--nats', 'nats://127.0.0.1:1', '--nats-stream', STREAM]);
  assert.equal(await deadNats.exited, 2);
  assert.match(deadNats.stderr(), /cannot start: NATS nats:\/\/127\.0\.0\.1:1: /);
  const wrongCount = startCli(['worker', '--store', STORE_URL, '--nats', NATS_URL, '--nats-stream', STREAM, '--partition-count', '16']);
  assert.equal(await wrongCount.exited, 2);
  assert.match(wrongCount.stderr(), /has 4 partitions, not 16/);
});
