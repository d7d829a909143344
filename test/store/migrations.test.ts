/**
 * Versioned schema migrations (src/store/migrations.ts): a data directory / PostgreSQL schema written by the
 * procwatch before them upgrades in place without losing a row, each migration is applied once, and events
 * stored under the old identity (host + channel + record id) keep deduping identical re-sends while a
 * different event with the same record id is a new event.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { SqliteStore, PostgresStore, type Store } from '../../src/store/index.js';
import { startServer } from '../../src/cli/startServer.js';
import { defaultConfig, type ServeConfig } from '../../src/service/config.js';
import { decodeDocument } from '../../src/formats/index.js';
import type { WinEvent } from '../../src/model/event.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/migrations.js';
import { AUTH, TOKEN, json } from '../server/support/http.js';
import { benign, ndjson, sysmonProcessCreate } from '../server/support/events.js';
import { PG_URL, requirePostgres, uniqueName } from '../scale/support/services.js';
import { POSTGRES_SCHEMA_V1, SQLITE_SCHEMA_BEFORE_MIGRATIONS, oldEventKey } from './support/schemaV1.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pw-migrate-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const TABLES = ['events', 'commits', 'alerts', 'incidents', 'suppressions', 'actions', 'audit'] as const;
/** PostgreSQL finds the retention cut with a BRIN index instead of a commits table. */
const PG_TABLES = TABLES.filter((t) => t !== 'commits');
const HOST = 'OLD01';
const VERSIONS = MIGRATIONS.map((m) => m.version);
/** Columns later migrations add (NULL on rows written before them); compared apart from the old rows. */
const ADDED_COLUMNS: Partial<Record<(typeof TABLES)[number], string[]>> = { suppressions: ['image'] };
function asBefore(table: (typeof TABLES)[number], rows: Record<string, unknown>[]): Record<string, unknown>[] {
  const added = ADDED_COLUMNS[table] ?? [];
  return rows.map((r) => {
    const out = { ...r };
    for (const c of added) {
      assert.equal(out[c], null, `${table}.${c}: NULL on a row written before its migration`);
      delete out[c];
    }
    return out;
  });
}
const RULE = 'certreq-download-upload';

function decoded(doc: Record<string, unknown>): WinEvent {
  return decodeDocument(doc, { file: 'fixture' }) as WinEvent;
}
const sha32 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 32);

/** The rows an old procwatch wrote for: a certreq event that alerted (doc kept), a benign one, an action, an audit entry. */
function oldRows(): { sql: string; args: unknown[] }[] {
  const alerting = decoded(sysmonProcessCreate({ recordId: 10, host: HOST }));
  const quiet = decoded(benign(11, HOST));
  const now = 1_700_000_000_000;
  const alertId = sha32(`${RULE}|${oldEventKey(alerting.system)}`);
  const q = (sql: string, ...args: unknown[]): { sql: string; args: unknown[] } => ({ sql, args });
  return [
    q('INSERT INTO events (key, received_at, time, host, doc) VALUES (?, ?, ?, ?, ?)', sha32(oldEventKey(alerting.system)), now, alerting.system.timeCreated, HOST, JSON.stringify(alerting)),
    q('INSERT INTO events (key, received_at, time, host, doc) VALUES (?, ?, ?, ?, ?)', sha32(oldEventKey(quiet.system)), now, quiet.system.timeCreated, HOST, null),
    q('INSERT INTO commits (last_seq, at) VALUES (?, ?)', 2, now),
    q(
      `INSERT INTO alerts (id, event_key, rule_id, severity, severity_rank, time, host, user_name, incident_id, suppressed, created_at, updated_at, doc)
       VALUES (?, ?, ?, 'high', 3, ?, ?, 'CORP\\alice', 'inc-old', ?, ?, ?, ?)`,
      alertId, sha32(oldEventKey(alerting.system)), RULE, alerting.system.timeCreated, HOST, false, now, now, JSON.stringify({ rule: { id: RULE }, winlog: { record_id: 10 } }),
    ),
    q(`INSERT INTO incidents (id, host, first_seen, last_seen, severity, severity_rank, alert_count, created_at, updated_at) VALUES ('inc-old', ?, ?, ?, 'high', 3, 1, ?, ?)`, HOST, alerting.system.timeCreated, alerting.system.timeCreated, now, now),
    q(`INSERT INTO suppressions (rule_id, reason, created_by, created_at) VALUES (?, 'noisy', 'alice', ?)`, 'some-rule', now),
    q(`INSERT INTO actions (id, alert_id, workflow, kind, status, destructive, dry_run, max_attempts, next_attempt_at, request, created_at, updated_at)
       VALUES ('act-old', ?, 'hook', 'webhook', 'succeeded', ?, ?, 3, ?, '{}', ?, ?)`, alertId, false, false, now, now, now),
    q(`INSERT INTO audit (time, actor, action, target_type, target_id, detail) VALUES (?, 'alice', 'alert.update', 'alert', ?, '{}')`, now, alertId),
  ];
}

/** Re-sends and a look-alike through a running server on the upgraded store. */
async function checkIdentityAfterUpgrade(store: Store, dataDir: string): Promise<void> {
  const config: ServeConfig = { ...defaultConfig(), port: 0, dataDir, tokens: [{ name: 'a', token: TOKEN }] };
  const srv = await startServer(config, { store, notice: () => {} });
  try {
    const post = async (docs: unknown[]): Promise<number[]> => {
      const r = await json(await fetch(`${srv.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson(docs) }));
      return [r.stored as number, r.duplicates as number, r.alerts as number];
    };
    const alerts = async (): Promise<number> => (await json(await fetch(`${srv.url}/api/alerts?host=${HOST}`, { headers: AUTH }))).total as number;
    assert.equal(await alerts(), 1, 'the start-up replay did not store the old alert again under a new id');
    assert.deepEqual(await post([sysmonProcessCreate({ recordId: 10, host: HOST })]), [0, 1, 0], 'identical re-send of an old alerting event');
    assert.deepEqual(await post([benign(11, HOST)]), [0, 1, 0], 'identical re-send of an old event stored without its document');
    // Same host, channel and record id as the old benign event, another time and command line: a new event.
    const lookAlike = sysmonProcessCreate({ recordId: 11, host: HOST, time: '2024-07-01T00:00:00.0000000Z' });
    assert.deepEqual(await post([lookAlike]), [1, 0, 1]);
    assert.deepEqual(await post([lookAlike]), [0, 1, 0]);
    assert.equal(await alerts(), 2);
  } finally {
    await srv.close();
  }
}

test('SQLite: a data directory written before migrations upgrades in place, every row kept, each migration applied once', async () => {
  const dataDir = tmp();
  const path = join(dataDir, 'procwatch.db');
  const old = new Database(path);
  old.exec(SQLITE_SCHEMA_BEFORE_MIGRATIONS);
  for (const r of oldRows()) old.prepare(r.sql).run(...r.args.map((a) => (typeof a === 'boolean' ? Number(a) : a)));
  const before = Object.fromEntries(TABLES.map((t) => [t, old.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()]));
  old.close();

  await new SqliteStore({ path }).close();
  const db = new Database(path, { readonly: true });
  for (const t of TABLES) assert.deepEqual(asBefore(t, db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all() as Record<string, unknown>[]), before[t], `${t}: every row as it was`);
  const versions = db.prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version').all() as { version: number; applied_at: number }[];
  assert.deepEqual(versions.map((v) => v.version), VERSIONS);
  assert.equal(SCHEMA_VERSION, VERSIONS.at(-1));
  assert.equal(db.prepare('SELECT max_seq FROM legacy_event_keys').pluck().get(), 2, 'the last row stored under the old identity');
  db.close();

  await checkIdentityAfterUpgrade(new SqliteStore({ path }), dataDir);

  const again = new Database(path, { readonly: true });
  assert.deepEqual(again.prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version').all(), versions, 'not applied a second time');
  again.close();
});

test('SQLite: a new data directory gets every migration; one from a newer procwatch is refused with a clear error', async () => {
  const path = join(tmp(), 'procwatch.db');
  const s = new SqliteStore({ path });
  assert.equal(await s.legacyKeysRetained(), false, 'nothing stored under the old identity');
  await s.close();
  const db = new Database(path);
  assert.deepEqual(db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(), VERSIONS);
  assert.equal(db.prepare('SELECT count(*) FROM legacy_event_keys').pluck().get(), 0);
  // Response-target verification reads one host's newest documents (SqliteStore.hostEventDocs): through the index.
  const plan = db.prepare("EXPLAIN QUERY PLAN SELECT doc FROM events WHERE host = ? COLLATE NOCASE AND doc IS NOT NULL AND (instr(lower(doc), ?) > 0) ORDER BY seq DESC LIMIT ?").all('WS01', 'x', 10) as { detail: string }[];
  assert.ok(plan.some((r) => r.detail.includes('events_host_docs')), JSON.stringify(plan));
  assert.ok(!plan.some((r) => r.detail.includes('TEMP B-TREE')), 'newest first without a sort');
  db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)').run();
  db.close();
  assert.throws(() => new SqliteStore({ path }), new RegExp(`schema version 99 is newer than this procwatch knows \\(${SCHEMA_VERSION}\\)`));
});

test('PostgreSQL: a schema at version 1 upgrades in place, every row kept; old keys keep deduping identical re-sends', async () => {
  await requirePostgres();
  const schema = uniqueName('pw_migrate');
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA "${schema}"`);
    await admin.query(`SET search_path = "${schema}"`);
    await admin.query(POSTGRES_SCHEMA_V1);
    await admin.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    await admin.query('INSERT INTO schema_migrations VALUES (1, 1)');
    for (const r of oldRows().filter((x) => !x.sql.includes('INTO commits'))) {
      let n = 0;
      await admin.query(r.sql.replace(/\?/g, () => `$${++n}`), r.args);
    }
    const before = Object.fromEntries(await Promise.all(PG_TABLES.map(async (t) => [t, (await admin.query(`SELECT * FROM "${t}" ORDER BY 1`)).rows] as const)));

    const store = await new PostgresStore({ url: PG_URL, schema }).open();
    for (const t of PG_TABLES) assert.deepEqual(asBefore(t, (await admin.query(`SELECT * FROM "${t}" ORDER BY 1`)).rows), before[t], `${t}: every row as it was`);
    assert.deepEqual((await admin.query('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r: { version: number }) => r.version), VERSIONS);
    assert.equal(await store.legacyKeysRetained(), true);
    await checkIdentityAfterUpgrade(store, tmp());
    // A second process opening the schema applies nothing again.
    const second = await new PostgresStore({ url: PG_URL, schema }).open();
    await second.close();
    assert.equal((await admin.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n, VERSIONS.length);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await admin.end();
  }
});
