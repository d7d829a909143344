/**
 * Events in PostgreSQL: de-duplication by key, paging for replay, response-verification lookups and retention.
 * `insert` and `known` are the events' part of the engine's batch commit (on its transaction's client).
 */
import type { Row } from '../rows.js';
import type { EventRecord, EventStore, LegacyKey } from '../types.js';
import type { PgDb, Queryable } from './db.js';

export class PgEventStore implements EventStore {
  constructor(private readonly conn: PgDb) {}

  /**
   * Stores the events not yet known (`ON CONFLICT (key) DO NOTHING`); returns how many were new. Events keep
   * arrival order: their sequence is the replay order that rebuilds correlation state.
   */
  async insert(c: Queryable, events: EventRecord[], now: number): Promise<number> {
    if (events.length === 0) return 0;
    const r = await c.query(
      `INSERT INTO events (key, received_at, time, host, doc)
       SELECT k, $2, t, h, d FROM unnest($1::text[], $3::text[], $4::text[], $5::text[]) AS u(k, t, h, d)
       ON CONFLICT (key) DO NOTHING`,
      [events.map((e) => e.key), now, events.map((e) => e.time), events.map((e) => e.host), events.map((e) => e.doc)],
    );
    return r.rowCount ?? 0;
  }

  /** Which of these keys are stored, on the given connection (inside a transaction). */
  async known(c: Queryable, keys: string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const rows = (await c.query('SELECT key FROM events WHERE key = ANY($1::text[])', [keys])).rows as Row[];
    return new Set(rows.map((r) => String(r.key)));
  }

  async knownKeys(keys: string[]): Promise<Set<string>> {
    await this.conn.ready;
    return this.known(this.conn.pool, keys);
  }

  async legacyKeysRetained(): Promise<boolean> {
    return (await this.conn.q('SELECT 1 FROM events WHERE seq <= (SELECT max_seq FROM legacy_event_keys) LIMIT 1')).length > 0;
  }

  async knownLegacyKeys(pairs: LegacyKey[]): Promise<Set<string>> {
    if (pairs.length === 0) return new Set();
    const rows = await this.conn.q(
      `SELECT e.key FROM events e JOIN unnest($1::text[], $2::text[]) AS u(k, t) ON e.key = u.k AND e.time = u.t
       WHERE e.seq <= (SELECT max_seq FROM legacy_event_keys)`,
      [pairs.map((p) => p.key), pairs.map((p) => p.time)],
    );
    return new Set(rows.map((r) => String(r.key)));
  }

  async *retainedEvents(): AsyncIterable<EventRecord> {
    let after = 0;
    for (;;) {
      const rows = await this.conn.q('SELECT seq, key, time, host, doc FROM events WHERE seq > $1 AND doc IS NOT NULL ORDER BY seq LIMIT 5000', [after]);
      for (const r of rows) yield { key: String(r.key), time: String(r.time), host: String(r.host), doc: String(r.doc) };
      if (rows.length < 5000) return;
      after = rows[rows.length - 1]!.seq as number;
    }
  }

  async *eventKeys(): AsyncIterable<string> {
    let after = 0;
    for (;;) {
      const rows = await this.conn.q('SELECT seq, key FROM events WHERE seq > $1 ORDER BY seq LIMIT 50000', [after]);
      for (const r of rows) yield String(r.key);
      if (rows.length < 50_000) return;
      after = rows[rows.length - 1]!.seq as number;
    }
  }

  async hasEvent(key: string): Promise<boolean> {
    return (await this.conn.q('SELECT 1 FROM events WHERE key = $1', [key])).length > 0;
  }

  async hostEventDocs(host: string, needles: string[], limit: number): Promise<string[]> {
    if (needles.length === 0) return [];
    const match = needles.map((_n, i) => `strpos(lower(doc), $${i + 2}) > 0`).join(' OR ');
    const sql = `SELECT doc FROM events WHERE lower(host) = lower($1) AND doc IS NOT NULL AND (${match}) ORDER BY seq DESC LIMIT $${needles.length + 2}`;
    return (await this.conn.q(sql, [host, ...needles, limit])).map((r) => String(r.doc));
  }

  async pruneEvents(olderThanMs: number, maxEvents: number): Promise<number> {
    return this.conn.tx(async (c) => {
      const byAge = (await c.query('DELETE FROM events WHERE received_at < $1', [Date.now() - olderThanMs])).rowCount ?? 0;
      // Identity values have gaps (ON CONFLICT consumes them): find the cut by position, not by arithmetic.
      const cut = (await c.query('SELECT seq FROM events ORDER BY seq DESC OFFSET $1 LIMIT 1', [maxEvents])).rows[0] as Row | undefined;
      const byCount = cut ? ((await c.query('DELETE FROM events WHERE seq <= $1', [cut.seq])).rowCount ?? 0) : 0;
      return byAge + byCount;
    });
  }

  count(): Promise<number> {
    return this.conn.count('SELECT count(*) AS n FROM events');
  }
}
