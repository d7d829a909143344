/**
 * The shared store: PostgreSQL through a `pg` Pool, for several `serve` / `worker` processes at once.
 *
 * Same semantics as the SQLite store, made safe for concurrent writers without a single-writer assumption:
 * - a batch is ONE transaction: events `ON CONFLICT (key) DO NOTHING`, alerts unique by id, incidents
 *   created or widened by an atomic upsert (`ON CONFLICT DO UPDATE` takes the row lock), actions planned;
 *   rows are written in key order so two transactions touching the same rows cannot deadlock;
 * - only alerts this transaction actually inserted widen incidents, so a batch committed twice (redelivery
 *   after a crash, two workers racing) counts nothing twice;
 * - due actions are claimed with `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, which
 *   marks them `running` with a lease: two runners never get the same action, and an action whose runner
 *   died is claimable again once its lease has expired.
 * Durability: PostgreSQL's `synchronous_commit` (on by default) — the commit returns after the WAL flush.
 *
 * Opening is lazy: the constructor starts the connection and the (idempotent, advisory-locked) migrations;
 * every call waits for them, so `openStore` stays synchronous and a connection error surfaces on first use.
 */
import pg from 'pg';
import { contextAuditEntry, mergeContext } from './contextMerge.js';
import { outboxActions, type OutboxRule } from './outbox.js';
import { MIGRATIONS, SCHEMA_MIGRATIONS_DDL, checkNotNewer, migrationSql } from './migrations.js';
import {
  ACTION_ORDER,
  ALERT_ORDER,
  AUDIT_ORDER,
  INCIDENT_ORDER,
  actionFilter,
  actionRow as mapAction,
  actionUpdate,
  alertFilter,
  alertRow as mapAlert,
  applyStatusChange,
  auditFilter,
  auditRow,
  incidentFilter,
  incidentRow,
  pageQueries,
  suppressionRow,
  markSuppressed,
  type ActionPatch,
  type Dialect,
  type Row,
  type Where,
} from './rows.js';
import type { Severity } from '../model/alert.js';
import {
  severityRank,
  type ActionRow,
  type ActionStatus,
  type AlertContextUpdate,
  type AlertQuery,
  type AlertRow,
  type AuditEntry,
  type Detected,
  type EventRecord,
  type IncidentQuery,
  type IncidentRow,
  type IngestResult,
  type KindFilter,
  type LegacyKey,
  type NewAction,
  type NewAlert,
  type NewAuditEntry,
  type NewSuppression,
  type Page,
  type StatusChange,
  type Store,
  type StoreCounts,
  type Suppression,
} from './types.js';

export interface PostgresStoreOptions {
  /** `postgres://user@host:port/db` (a `?schema=NAME` parameter is taken as `schema`). */
  url: string;
  /** Schema holding procwatch's tables (created if missing). Default `procwatch`. */
  schema?: string;
  /** Pool size per process. Default 8. */
  poolSize?: number;
  /** How long a claimed action may stay `running` before another runner may take it over. Default 5 min. */
  actionLeaseMs?: number;
}

/** PostgreSQL: `$n` placeholders, real booleans, host matched by lower() (indexed as such). */
const POSTGRES: Dialect = {
  placeholder: (n) => `$${n}`,
  hostEquals: 'lower(host) = lower(?)',
  readBool: (v) => v === true,
  writeBool: (b) => b,
};
const alertRow = (r: Row): AlertRow => mapAlert(r, POSTGRES);
const actionRow = (r: Row): ActionRow => mapAction(r, POSTGRES);

type Queryable = Pick<pg.PoolClient, 'query'>;


/** BIGINT and COUNT(*) come back as numbers (our values are milliseconds and counts, far below 2^53). */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

/** SQLSTATE deadlock_detected. */
const DEADLOCK = '40P01';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Splits `?schema=` off a URL (libpq would reject the unknown parameter). */
export function parsePostgresUrl(url: string): { url: string; schema?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`not a PostgreSQL URL: ${url}`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error(`not a PostgreSQL URL: ${url}`);
  const schema = u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  return { url: u.toString(), ...(schema ? { schema } : {}) };
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

export class PostgresStore implements Store {
  readonly schema: string;
  private readonly pool: pg.Pool;
  private readonly ready: Promise<void>;
  private readonly leaseMs: number;

  constructor(options: PostgresStoreOptions) {
    const parsed = parsePostgresUrl(options.url);
    this.schema = options.schema ?? parsed.schema ?? 'procwatch';
    if (!SCHEMA_NAME.test(this.schema)) throw new Error(`store schema "${this.schema}": expected lower-case letters, digits and _`);
    this.leaseMs = options.actionLeaseMs ?? 300_000;
    this.pool = new pg.Pool({
      connectionString: parsed.url,
      max: options.poolSize ?? 8,
      types: TYPES,
      // Every connection works in our schema; names are validated above, so quoting is enough.
      options: `-c search_path="${this.schema}"`,
      connectionTimeoutMillis: 10_000,
    });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    this.pool.on('error', () => {});
    this.ready = this.migrate();
    this.ready.catch(() => {});
  }

  /** Resolves once the schema is ready (or rejects with the connection/migration error). */
  async open(): Promise<this> {
    await this.ready;
    return this;
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect().catch((err: Error) => {
      throw new Error(`PostgreSQL ${redact(this.pool.options.connectionString)}: ${err.message}`);
    });
    try {
      await client.query('BEGIN');
      // Several processes may start at once: one migrates, the others wait and then see it done.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('procwatch.migrate.' || $1::text))`, [this.schema]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await client.query(SCHEMA_MIGRATIONS_DDL);
      const done = (await client.query('SELECT coalesce(max(version), 0) AS v FROM schema_migrations')).rows[0]!.v as number;
      checkNotNewer(done, `PostgreSQL schema ${this.schema}`);
      for (const m of MIGRATIONS) {
        if (m.version <= done) continue;
        // One transaction for all: a failed migration leaves the schema as it was (PostgreSQL DDL is transactional).
        try {
          await client.query(migrationSql(m, 'postgres'));
        } catch (err) {
          throw new Error(`PostgreSQL schema ${this.schema}: schema migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
        }
        await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [m.version, Date.now()]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  private async q(sql: string, args: unknown[] = []): Promise<Row[]> {
    await this.ready;
    return (await this.pool.query(sql, args)).rows as Row[];
  }

  /** Runs `fn` in one transaction on one connection. */
  private async tx<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    await this.ready;
    const client = await this.pool.connect();
    // A connection lost mid-transaction is also emitted as 'error' on the checked-out client; unlistened,
    // that would crash the process. The failing query's rejection reports it (the commit answers 503).
    const lost = (): void => {};
    client.on('error', lost);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      // A client that cannot even roll back is broken: release(err) discards it instead of pooling it.
      const rolledBack = await client.query('ROLLBACK').then(() => true, () => false);
      if (!rolledBack) broken = err as Error;
      throw err;
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  }

  async legacyKeysRetained(): Promise<boolean> {
    return (await this.q('SELECT 1 FROM events WHERE seq <= (SELECT max_seq FROM legacy_event_keys) LIMIT 1')).length > 0;
  }

  async knownLegacyKeys(pairs: LegacyKey[]): Promise<Set<string>> {
    if (pairs.length === 0) return new Set();
    const rows = await this.q(
      `SELECT e.key FROM events e JOIN unnest($1::text[], $2::text[]) AS u(k, t) ON e.key = u.k AND e.time = u.t
       WHERE e.seq <= (SELECT max_seq FROM legacy_event_keys)`,
      [pairs.map((p) => p.key), pairs.map((p) => p.time)],
    );
    return new Set(rows.map((r) => String(r.key)));
  }

  async knownKeys(keys: string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const rows = await this.q('SELECT key FROM events WHERE key = ANY($1::text[])', [keys]);
    return new Set(rows.map((r) => String(r.key)));
  }

  async commit(events: EventRecord[], detected: Detected): Promise<IngestResult> {
    // A deadlock (two writers inserting the same new events in different orders — only a redelivery race
    // does that) aborts one transaction entirely; the commit has no side effect outside it, so run it again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.tx((c) => this.commitIn(c, events, detected));
      } catch (err) {
        if ((err as { code?: string }).code !== DEADLOCK || attempt >= 3) throw err;
      }
    }
  }

  /**
   * `knownKeys` + `commit` in one transaction (tests, tools). Unlike SQLite this is not a single-writer
   * section: a concurrent writer may store the same events in between, which the ON CONFLICT clauses absorb.
   */
  async ingest(events: EventRecord[], detect: (fresh: EventRecord[]) => Detected): Promise<IngestResult> {
    return this.tx(async (c) => {
      const unique = [...new Map(events.map((e) => [e.key, e])).values()];
      const known = new Set(
        ((await c.query('SELECT key FROM events WHERE key = ANY($1::text[])', [unique.map((e) => e.key)])).rows as Row[]).map((r) => String(r.key)),
      );
      const fresh = unique.filter((e) => !known.has(e.key));
      const r = await this.commitIn(c, fresh, fresh.length > 0 ? detect(fresh) : { alerts: [], actions: [] });
      return { ...r, duplicates: events.length - r.stored };
    });
  }

  private async commitIn(c: Queryable, events: EventRecord[], detected: Detected): Promise<IngestResult> {
    const now = Date.now();
    // Events keep arrival order (their sequence is the replay order that rebuilds correlation state). Rows that
    // concurrent writers contend for (alerts, incidents, actions) are written in key order, so they cannot
    // deadlock; the same event is only ever written twice at once by a redelivery race, which PostgreSQL
    // resolves by aborting one side (`commit` runs it again).
    const evs = events;
    let stored = 0;
    if (evs.length > 0) {
      const r = await c.query(
        `INSERT INTO events (key, received_at, time, host, doc)
         SELECT k, $2, t, h, d FROM unnest($1::text[], $3::text[], $4::text[], $5::text[]) AS u(k, t, h, d)
         ON CONFLICT (key) DO NOTHING`,
        [evs.map((e) => e.key), now, evs.map((e) => e.time), evs.map((e) => e.host), evs.map((e) => e.doc)],
      );
      stored = r.rowCount ?? 0;
    }
    const unique = [...new Map(detected.alerts.map((a) => [a.id, a])).values()];
    let alertsCreated: NewAlert[] = [];
    if (unique.length > 0) {
      const created = await insertAlerts(c, [...unique].sort((a, b) => cmp(a.id, b.id)), now);
      alertsCreated = unique.filter((a) => created.has(a.id));
      await this.notifyAlerts(c, alertsCreated.map((a) => a.id));
    }
    await widenIncidents(c, alertsCreated, now);
    const actions = [...new Map(detected.actions.map((a) => [a.id, a])).values()].sort((a, b) => cmp(a.id, b.id));
    let actionsCreated: string[] = [];
    if (actions.length > 0) {
      const r = await c.query(
        `INSERT INTO actions (id, alert_id, workflow, kind, status, destructive, dry_run, max_attempts, next_attempt_at, request, created_at, updated_at)
         SELECT id, a, w, k, s, de, dr, m, $10, rq, $10, $10
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::boolean[], $8::int[], $9::text[])
           AS u(id, a, w, k, s, de, dr, m, rq)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [
          actions.map((a) => a.id),
          actions.map((a) => a.alertId),
          actions.map((a) => a.workflow),
          actions.map((a) => a.kind),
          actions.map((a) => a.status),
          actions.map((a) => a.destructive),
          actions.map((a) => a.dryRun),
          actions.map((a) => a.maxAttempts),
          actions.map((a) => JSON.stringify(a.request)),
          now,
        ],
      );
      const ids = new Set((r.rows as Row[]).map((x) => String(x.id)));
      actionsCreated = actions.filter((a) => ids.has(a.id)).map((a) => a.id);
    }
    return { stored, duplicates: events.length - stored, alertsCreated, actionsCreated };
  }

  /** PostgreSQL's channel for this schema's new alerts (LISTEN/NOTIFY channels are per database). */
  private get alertChannel(): string {
    return `procwatch_alerts_${this.schema}`;
  }

  /** The channel for alerts whose context (tree, lifetime, evidence) a later commit updated. */
  private get updateChannel(): string {
    return `procwatch_alert_updates_${this.schema}`;
  }

  /** Announces new alert ids; PostgreSQL delivers the notification only if and when the transaction commits. */
  private async notifyAlerts(c: Queryable, ids: string[]): Promise<void> {
    await this.notify(c, this.alertChannel, ids);
  }

  private async notify(c: Queryable, channel: string, ids: string[]): Promise<void> {
    // NOTIFY payloads are limited to 8000 bytes: 150 ids of ≤ 40 characters per notification.
    for (let i = 0; i < ids.length; i += 150) {
      await c.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify(ids.slice(i, i + 150))]);
    }
  }

  /**
   * Calls `listener` with the ids of alerts committed by any process writing to this schema (workers), for
   * live streams on nodes that do not commit themselves. Reconnects after a lost connection (alerts
   * committed meanwhile are not announced; they are in the store). Returns the unsubscribe function.
   */
  async onAlerts(
    listener: (ids: string[]) => void,
    onError: (err: Error) => void = () => {},
    /** Ids of stored alerts whose context a commit updated (see updateAlertContexts). */
    onUpdated?: (ids: string[]) => void,
  ): Promise<() => Promise<void>> {
    await this.ready;
    let stopped = false;
    let client: pg.Client | undefined;
    const open = async (): Promise<void> => {
      const c = new pg.Client({ connectionString: this.pool.options.connectionString, types: TYPES });
      c.on('notification', (n) => {
        const to = n.channel === this.alertChannel ? listener : n.channel === this.updateChannel ? onUpdated : undefined;
        if (!to || !n.payload) return;
        try {
          to(JSON.parse(n.payload) as string[]);
        } catch (err) {
          onError(err as Error);
        }
      });
      c.on('error', (err: Error) => {
        onError(err);
        c.end().catch(() => {});
        if (!stopped) setTimeout(() => void open().catch(onError), 2000).unref();
      });
      await c.connect();
      await c.query(`LISTEN "${this.alertChannel}"`);
      if (onUpdated) await c.query(`LISTEN "${this.updateChannel}"`);
      client = c;
    };
    await open();
    return async () => {
      stopped = true;
      await client?.end().catch(() => {});
    };
  }

  /** The rows of these alerts (for streams announcing them). */
  async getAlerts(ids: string[]): Promise<AlertRow[]> {
    if (ids.length === 0) return [];
    return (await this.q('SELECT * FROM alerts WHERE id = ANY($1::text[]) ORDER BY time, id', [ids])).map(alertRow);
  }

  async *retainedEvents(): AsyncIterable<EventRecord> {
    let after = 0;
    for (;;) {
      const rows = await this.q('SELECT seq, key, time, host, doc FROM events WHERE seq > $1 AND doc IS NOT NULL ORDER BY seq LIMIT 5000', [after]);
      for (const r of rows) yield { key: String(r.key), time: String(r.time), host: String(r.host), doc: String(r.doc) };
      if (rows.length < 5000) return;
      after = rows[rows.length - 1]!.seq as number;
    }
  }

  async *eventKeys(): AsyncIterable<string> {
    let after = 0;
    for (;;) {
      const rows = await this.q('SELECT seq, key FROM events WHERE seq > $1 ORDER BY seq LIMIT 50000', [after]);
      for (const r of rows) yield String(r.key);
      if (rows.length < 50_000) return;
      after = rows[rows.length - 1]!.seq as number;
    }
  }

  async hasEvent(key: string): Promise<boolean> {
    return (await this.q('SELECT 1 FROM events WHERE key = $1', [key])).length > 0;
  }

  async hostEventDocs(host: string, needles: string[], limit: number): Promise<string[]> {
    if (needles.length === 0) return [];
    const match = needles.map((_n, i) => `strpos(lower(doc), $${i + 2}) > 0`).join(' OR ');
    const sql = `SELECT doc FROM events WHERE lower(host) = lower($1) AND doc IS NOT NULL AND (${match}) ORDER BY seq DESC LIMIT $${needles.length + 2}`;
    return (await this.q(sql, [host, ...needles, limit])).map((r) => String(r.doc));
  }

  async pruneEvents(olderThanMs: number, maxEvents: number): Promise<number> {
    return this.tx(async (c) => {
      const byAge = (await c.query('DELETE FROM events WHERE received_at < $1', [Date.now() - olderThanMs])).rowCount ?? 0;
      // Identity values have gaps (ON CONFLICT consumes them): find the cut by position, not by arithmetic.
      const cut = (await c.query('SELECT seq FROM events ORDER BY seq DESC OFFSET $1 LIMIT 1', [maxEvents])).rows[0] as Row | undefined;
      const byCount = cut ? ((await c.query('DELETE FROM events WHERE seq <= $1', [cut.seq])).rowCount ?? 0) : 0;
      return byAge + byCount;
    });
  }

  async listAlerts(q: AlertQuery): Promise<Page<AlertRow>> {
    return this.page('alerts', alertFilter(q, POSTGRES), ALERT_ORDER, q, alertRow);
  }

  async getAlert(id: string): Promise<AlertRow | undefined> {
    const r = (await this.q('SELECT * FROM alerts WHERE id = $1', [id]))[0];
    return r ? alertRow(r) : undefined;
  }

  async updateAlert(id: string, change: StatusChange, outbox?: readonly OutboxRule[]): Promise<AlertRow | undefined> {
    if (!outbox || outbox.length === 0) return (await this.updateStatus('alerts', 'alert', id, change)) ? this.getAlert(id) : undefined;
    // The change and the forwards of the changed alert in one transaction (outbox.ts).
    return this.tx(async (c) => {
      if (!(await this.updateStatusIn(c, 'alerts', 'alert', id, change))) return undefined;
      const row = alertRow((await c.query('SELECT * FROM alerts WHERE id = $1', [id])).rows[0] as Row);
      await insertOutbox(c, outboxActions(row, outbox), row.updatedAt);
      return row;
    });
  }

  async updateAlertContexts(updates: AlertContextUpdate[], actor: string, outbox?: readonly OutboxRule[]): Promise<AlertRow[]> {
    if (updates.length === 0) return [];
    // The last update of an id wins; rows are locked in id order, so concurrent writers cannot deadlock.
    const byId = new Map(updates.map((u) => [u.id, u]));
    const ids = [...byId.keys()].sort(cmp);
    return this.tx(async (c) => {
      const rows = (await c.query('SELECT * FROM alerts WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE', [ids])).rows as Row[];
      const now = Date.now();
      const changed: AlertRow[] = [];
      for (const row of rows) {
        const id = String(row.id);
        const merged = mergeContext(JSON.parse(String(row.doc)) as Record<string, unknown>, byId.get(id)!);
        if (merged.changed.length === 0) continue;
        const sev = merged.severity;
        if (sev) {
          await c.query('UPDATE alerts SET doc = $1, updated_at = $2, severity = $3, severity_rank = $4 WHERE id = $5', [JSON.stringify(merged.doc), now, sev, severityRank(sev), id]);
          // The incident takes the highest severity of its alerts.
          if (row.incident_id) await c.query('UPDATE incidents SET severity = $1, severity_rank = $2, updated_at = $3 WHERE id = $4 AND severity_rank < $2', [sev, severityRank(sev), now, row.incident_id]);
        } else await c.query('UPDATE alerts SET doc = $1, updated_at = $2 WHERE id = $3', [JSON.stringify(merged.doc), now, id]);
        await insertAudit(c, now, contextAuditEntry(id, actor, merged.changed, merged.doc));
        const updated: AlertRow = { ...alertRow(row), updatedAt: now, doc: merged.doc, ...(sev ? { severity: sev } : {}) };
        await insertOutbox(c, outboxActions(updated, outbox), now);
        changed.push(updated);
      }
      await this.notify(c, this.updateChannel, changed.map((r) => r.id));
      return changed;
    });
  }

  async listIncidents(q: IncidentQuery): Promise<Page<IncidentRow>> {
    return this.page('incidents', incidentFilter(q, POSTGRES), INCIDENT_ORDER, q, incidentRow);
  }

  async getIncident(id: string): Promise<IncidentRow | undefined> {
    const r = (await this.q('SELECT * FROM incidents WHERE id = $1', [id]))[0];
    return r ? incidentRow(r) : undefined;
  }

  async updateIncident(id: string, change: StatusChange): Promise<IncidentRow | undefined> {
    return (await this.updateStatus('incidents', 'incident', id, change)) ? this.getIncident(id) : undefined;
  }

  private async page<T>(table: string, where: Where, order: string, q: { limit: number; offset: number }, map: (r: Row) => T): Promise<Page<T>> {
    const { count, rows } = pageQueries(table, where, order, q);
    const total = (await this.q(count.sql, count.args))[0]!.n as number;
    return { total, items: (await this.q(rows.sql, rows.args)).map(map) };
  }

  /** Status/assignee change and its audit entry, in one transaction (the row is locked while read). */
  private async updateStatus(table: 'alerts' | 'incidents', kind: string, id: string, change: StatusChange): Promise<boolean> {
    return this.tx((c) => this.updateStatusIn(c, table, kind, id, change));
  }

  private async updateStatusIn(c: Queryable, table: 'alerts' | 'incidents', kind: string, id: string, change: StatusChange): Promise<boolean> {
    {
      const before = (await c.query(`SELECT status, assignee FROM ${table} WHERE id = $1 FOR UPDATE`, [id])).rows[0] as Row | undefined;
      if (!before) return false;
      const { status, assignee, detail } = applyStatusChange(before, change);
      const now = Date.now();
      await c.query(`UPDATE ${table} SET status = $1, assignee = $2, status_reason = $3, updated_at = $4 WHERE id = $5`, [status, assignee, change.reason ?? null, now, id]);
      await insertAudit(c, now, { actor: change.actor, action: `${kind}.update`, targetType: kind, targetId: id, detail });
      return true;
    }
  }

  async listSuppressions(): Promise<Suppression[]> {
    return (await this.q('SELECT * FROM suppressions ORDER BY id')).map(suppressionRow);
  }

  async addSuppression(s: NewSuppression): Promise<Suppression> {
    return this.tx(async (c) => {
      const now = Date.now();
      const row = (
        await c.query(
          `INSERT INTO suppressions (rule_id, host, user_name, image, parent_image, command_line, reason, expires_at, created_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
          [s.ruleId, s.host, s.user, s.image, s.parentImage, s.commandLine, s.reason, s.expiresAt, s.createdBy, now],
        )
      ).rows[0] as Row;
      const created = suppressionRow(row);
      await insertAudit(c, now, { actor: s.createdBy, action: 'suppression.create', targetType: 'suppression', targetId: String(created.id), detail: { ...s } });
      return created;
    });
  }

  async deleteSuppression(id: number, actor: string): Promise<boolean> {
    return this.tx(async (c) => {
      const gone = ((await c.query('DELETE FROM suppressions WHERE id = $1', [id])).rowCount ?? 0) > 0;
      if (gone) await insertAudit(c, Date.now(), { actor, action: 'suppression.delete', targetType: 'suppression', targetId: String(id), detail: {} });
      return gone;
    });
  }

  async countSuppressionHit(id: number): Promise<void> {
    await this.q('UPDATE suppressions SET hits = hits + 1 WHERE id = $1', [id]);
  }

  async suppressAlerts(ids: string[], by: { ref: string; reason: string }, actor: string): Promise<number> {
    if (ids.length === 0) return 0;
    // Rows locked in id order (as updateAlertContexts does), so concurrent writers cannot deadlock.
    const sorted = [...new Set(ids)].sort(cmp);
    return this.tx(async (c) => {
      const rows = (await c.query('SELECT id, doc FROM alerts WHERE id = ANY($1::text[]) AND NOT suppressed ORDER BY id FOR UPDATE', [sorted])).rows as Row[];
      const now = Date.now();
      for (const row of rows) {
        const doc = markSuppressed(JSON.parse(String(row.doc)) as Record<string, unknown>, by);
        await c.query('UPDATE alerts SET suppressed = true, doc = $1, updated_at = $2 WHERE id = $3', [JSON.stringify(doc), now, row.id]);
        await insertAudit(c, now, { actor, action: 'alert.suppress', targetType: 'alert', targetId: String(row.id), detail: { by: by.ref, reason: by.reason } });
      }
      return rows.length;
    });
  }

  /**
   * Claims due actions for this caller: they come back `running`, leased for `actionLeaseMs`. Concurrent
   * callers skip each other's locked rows, so no action is handed out twice. Actions left `running` by a
   * runner that died are due again once their lease has expired.
   */
  async dueActions(now: number, limit: number, kind?: KindFilter): Promise<ActionRow[]> {
    const byKind = kind === undefined ? '' : 'is' in kind ? 'AND kind = $4' : 'AND kind <> $4';
    const rows = await this.q(
      `UPDATE actions SET status = 'running', claimed_until = $2, updated_at = $1
       WHERE id IN (
         SELECT id FROM actions
         WHERE ((status IN ('pending', 'retrying') AND next_attempt_at <= $1) OR (status = 'running' AND claimed_until < $1)) ${byKind}
         ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      kind === undefined ? [now, now + this.leaseMs, limit] : [now, now + this.leaseMs, limit, 'is' in kind ? kind.is : kind.not],
    );
    return rows.map(actionRow).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt);
  }

  async getAction(id: string): Promise<ActionRow | undefined> {
    const r = (await this.q('SELECT * FROM actions WHERE id = $1', [id]))[0];
    return r ? actionRow(r) : undefined;
  }

  async listActions(q: { alertId?: string; status?: ActionStatus; limit: number; offset: number }): Promise<Page<ActionRow>> {
    return this.page('actions', actionFilter(q, POSTGRES), ACTION_ORDER, q, actionRow);
  }

  async updateAction(id: string, patch: ActionPatch, onlyIf?: ActionStatus): Promise<boolean> {
    const u = actionUpdate(id, patch, Date.now(), POSTGRES, onlyIf);
    return (await this.q(`${u.sql} RETURNING id`, u.args)).length > 0;
  }

  /**
   * Only actions whose lease has expired: with several processes, a `running` action may belong to a live
   * runner elsewhere, and re-queuing it would run it twice.
   */
  async requeueInterruptedActions(): Promise<number> {
    const now = Date.now();
    const rows = await this.q(`UPDATE actions SET status = 'retrying', updated_at = $1 WHERE status = 'running' AND (claimed_until IS NULL OR claimed_until < $1) RETURNING id`, [now]);
    return rows.length;
  }

  async audit(entry: NewAuditEntry): Promise<void> {
    await this.ready;
    await insertAudit(this.pool, Date.now(), entry);
  }

  async listAudit(q: { targetId?: string; limit: number; offset: number }): Promise<Page<AuditEntry>> {
    return this.page('audit', auditFilter(q, POSTGRES), AUDIT_ORDER, q, auditRow);
  }

  async counts(): Promise<StoreCounts> {
    const r = (
      await this.q(`SELECT
        (SELECT count(*) FROM events) AS events,
        (SELECT count(*) FROM alerts) AS alerts,
        (SELECT count(*) FROM alerts WHERE status = 'open') AS open_alerts,
        (SELECT count(*) FROM incidents) AS incidents,
        (SELECT count(*) FROM actions WHERE status IN ('pending', 'retrying', 'pending_approval', 'running')) AS actions_pending`)
    )[0]!;
    return {
      events: r.events as number,
      alerts: r.alerts as number,
      openAlerts: r.open_alerts as number,
      incidents: r.incidents as number,
      actionsPending: r.actions_pending as number,
    };
  }

  async close(): Promise<void> {
    await this.ready.catch(() => {});
    if (!this.pool.ended) await this.pool.end();
  }

  /** Drops this store's schema and everything in it (tests isolate themselves in a schema per run). */
  async dropSchema(): Promise<void> {
    await this.ready.catch(() => {});
    await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
  }
}

async function insertAlerts(c: Queryable, alerts: NewAlert[], now: number): Promise<Set<string>> {
  const r = await c.query(
    `INSERT INTO alerts (id, event_key, rule_id, severity, severity_rank, time, host, user_name, incident_id, suppressed, created_at, updated_at, doc)
     SELECT id, ek, ru, sv, sr, t, h, us, inc, sup, $11, $11, d
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::boolean[], $12::text[])
       AS u(id, ek, ru, sv, sr, t, h, us, inc, sup, d)
     ON CONFLICT (id) DO NOTHING RETURNING id`,
    [
      alerts.map((a) => a.id),
      alerts.map((a) => a.eventKey),
      alerts.map((a) => a.ruleId),
      alerts.map((a) => a.severity),
      alerts.map((a) => severityRank(a.severity)),
      alerts.map((a) => a.time),
      alerts.map((a) => a.host),
      alerts.map((a) => a.user ?? null),
      alerts.map((a) => a.incidentId ?? null),
      alerts.map((a) => a.suppressed),
      now,
      alerts.map((a) => JSON.stringify(a.doc)),
    ],
  );
  return new Set((r.rows as Row[]).map((x) => String(x.id)));
}

/**
 * New unsuppressed alerts create or widen their incident: one atomic upsert per incident (the row lock of
 * ON CONFLICT DO UPDATE serialises concurrent writers; LEAST/GREATEST make the order of commits irrelevant).
 */
async function widenIncidents(c: Queryable, created: NewAlert[], now: number): Promise<void> {
  const byId = new Map<string, { host: string; user: string | null; first: string; last: string; severity: Severity; count: number }>();
  for (const a of created) {
    if (!a.incidentId || a.suppressed) continue;
    const cur = byId.get(a.incidentId);
    if (!cur) {
      byId.set(a.incidentId, { host: a.host, user: a.user ?? null, first: a.time, last: a.time, severity: a.severity, count: 1 });
      continue;
    }
    if (a.time < cur.first) cur.first = a.time;
    if (a.time > cur.last) cur.last = a.time;
    if (severityRank(a.severity) > severityRank(cur.severity)) cur.severity = a.severity;
    cur.count++;
  }
  if (byId.size === 0) return;
  const list = [...byId.entries()].sort((a, b) => cmp(a[0], b[0]));
  await c.query(
    `INSERT INTO incidents AS i (id, host, user_name, first_seen, last_seen, severity, severity_rank, alert_count, created_at, updated_at)
     SELECT id, h, us, f, l, sv, sr, n, $9, $9
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[]) AS u(id, h, us, f, l, sv, sr, n)
     ON CONFLICT (id) DO UPDATE SET
       first_seen = LEAST(i.first_seen, EXCLUDED.first_seen),
       last_seen = GREATEST(i.last_seen, EXCLUDED.last_seen),
       severity = CASE WHEN EXCLUDED.severity_rank > i.severity_rank THEN EXCLUDED.severity ELSE i.severity END,
       severity_rank = GREATEST(i.severity_rank, EXCLUDED.severity_rank),
       alert_count = i.alert_count + EXCLUDED.alert_count,
       updated_at = EXCLUDED.updated_at,
       status = CASE WHEN i.status = 'closed' THEN 'open' ELSE i.status END`,
    [
      list.map(([id]) => id),
      list.map(([, v]) => v.host),
      list.map(([, v]) => v.user),
      list.map(([, v]) => v.first),
      list.map(([, v]) => v.last),
      list.map(([, v]) => v.severity),
      list.map(([, v]) => severityRank(v.severity)),
      list.map(([, v]) => v.count),
      now,
    ],
  );
}

/** Outbox actions of a changed alert (see outbox.ts), in the caller's transaction. */
async function insertOutbox(c: Queryable, actions: NewAction[], now: number): Promise<void> {
  for (const a of actions) {
    await c.query(
      `INSERT INTO actions (id, alert_id, workflow, kind, status, destructive, dry_run, max_attempts, next_attempt_at, request, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, $9) ON CONFLICT (id) DO NOTHING`,
      [a.id, a.alertId, a.workflow, a.kind, a.status, a.destructive, a.dryRun, a.maxAttempts, now, JSON.stringify(a.request)],
    );
  }
}

async function insertAudit(c: Queryable, now: number, e: NewAuditEntry): Promise<void> {
  await c.query('INSERT INTO audit (time, actor, action, target_type, target_id, detail) VALUES ($1, $2, $3, $4, $5, $6)', [
    now,
    e.actor,
    e.action,
    e.targetType,
    e.targetId,
    JSON.stringify(e.detail),
  ]);
}

/** Byte order, as PostgreSQL's "C" collation and SQLite compare. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function redact(url: string | undefined): string {
  if (!url) return '(default connection)';
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(connection string)';
  }
}

