/**
 * Events in SQLite: de-duplication by key, paging for replay, response-verification lookups and retention.
 * `insert` is the events' part of the engine's batch commit (called inside its transaction).
 */
import type { Row } from '../rows.js';
import type { EventRecord, EventStore, LegacyKey } from '../types.js';
import type { SqliteDb } from './db.js';

/** Keys looked up per statement in knownKeys (one round trip into SQLite per chunk, not per key). */
const KEY_CHUNK = 256;

export class SqliteEventStore implements EventStore {
  private readonly stmt;

  constructor(private readonly conn: SqliteDb) {
    const db = conn.db;
    this.stmt = {
      insert: db.prepare('INSERT OR IGNORE INTO events (key, received_at, time, host, doc) VALUES (?, ?, ?, ?, ?)'),
      has: db.prepare('SELECT 1 FROM events WHERE key = ?'),
      legacyRetained: db.prepare('SELECT 1 FROM events WHERE seq <= (SELECT max_seq FROM legacy_event_keys) LIMIT 1').pluck(),
      hasLegacy: db.prepare('SELECT 1 FROM events WHERE key = ? AND time = ? AND seq <= (SELECT max_seq FROM legacy_event_keys)').pluck(),
      knownChunk: db.prepare(`SELECT key FROM events WHERE key IN (${Array.from({ length: KEY_CHUNK }, () => '?').join(',')})`).pluck(),
      lastSeq: db.prepare('SELECT max(seq) FROM events').pluck(),
      insertCommit: db.prepare('INSERT OR REPLACE INTO commits (last_seq, at) VALUES (?, ?)'),
    };
  }

  /** Stores the events not yet known and notes the commit time (for age-based retention); returns how many were new. */
  insert(events: EventRecord[], now: number): number {
    let stored = 0;
    for (const e of events) stored += this.stmt.insert.run(e.key, now, e.time, e.host, e.doc).changes;
    if (stored > 0) this.stmt.insertCommit.run(this.stmt.lastSeq.get(), now);
    return stored;
  }

  /** The events of `events` not stored yet (and not repeated within the list), in order. */
  fresh(events: EventRecord[]): EventRecord[] {
    const seen = new Set<string>();
    return events.filter((e) => !seen.has(e.key) && (seen.add(e.key), this.stmt.has.get(e.key) === undefined));
  }

  async knownKeys(keys: string[]): Promise<Set<string>> {
    const known = new Set<string>();
    for (let i = 0; i < keys.length; i += KEY_CHUNK) {
      const chunk = keys.slice(i, i + KEY_CHUNK);
      if (chunk.length === KEY_CHUNK) {
        for (const k of this.stmt.knownChunk.all(...chunk) as string[]) known.add(k);
      } else {
        for (const k of chunk) if (this.stmt.has.get(k) !== undefined) known.add(k);
      }
    }
    return known;
  }

  async legacyKeysRetained(): Promise<boolean> {
    return this.stmt.legacyRetained.get() !== undefined;
  }

  async knownLegacyKeys(pairs: LegacyKey[]): Promise<Set<string>> {
    const known = new Set<string>();
    for (const p of pairs) if (this.stmt.hasLegacy.get(p.key, p.time) !== undefined) known.add(p.key);
    return known;
  }

  async *retainedEvents(): AsyncIterable<EventRecord> {
    let after = 0;
    for (;;) {
      const page = this.retainedEventsPage(after, 5000);
      for (const r of page.items) yield r;
      if (page.items.length < 5000) return;
      after = page.lastSeq;
    }
  }

  async *eventKeys(): AsyncIterable<string> {
    let after = 0;
    for (;;) {
      const page = this.eventKeysPage(after, 50_000);
      yield* page.keys;
      if (page.keys.length < 50_000) return;
      after = page.lastSeq;
    }
  }

  eventKeysPage(after: number, limit: number): { keys: string[]; lastSeq: number } {
    const rows = this.conn.db.prepare('SELECT seq, key FROM events WHERE seq > ? ORDER BY seq LIMIT ?').raw().all(after, limit) as [number, string][];
    return { keys: rows.map((r) => r[1]), lastSeq: rows.length > 0 ? rows[rows.length - 1]![0] : after };
  }

  /** One page of retained events with documents, after sequence number `after` (worker paging). */
  retainedEventsPage(after: number, limit: number): { items: EventRecord[]; lastSeq: number } {
    const rows = this.conn.db.prepare('SELECT seq, key, time, host, doc FROM events WHERE seq > ? AND doc IS NOT NULL ORDER BY seq LIMIT ?').all(after, limit) as Row[];
    return {
      items: rows.map((r) => ({ key: String(r.key), time: String(r.time), host: String(r.host), doc: r.doc as string })),
      lastSeq: rows.length > 0 ? (rows[rows.length - 1]!.seq as number) : after,
    };
  }

  async hasEvent(key: string): Promise<boolean> {
    return this.stmt.has.get(key) !== undefined;
  }

  async hostEventDocs(host: string, needles: string[], limit: number): Promise<string[]> {
    if (needles.length === 0) return [];
    const match = needles.map(() => 'instr(lower(doc), ?) > 0').join(' OR ');
    const sql = `SELECT doc FROM events WHERE host = ? COLLATE NOCASE AND doc IS NOT NULL AND (${match}) ORDER BY seq DESC LIMIT ?`;
    return this.conn.db.prepare(sql).pluck().all(host, ...needles, limit) as string[];
  }

  async pruneEvents(olderThanMs: number, maxEvents: number): Promise<number> {
    const db = this.conn.db;
    return this.conn.tx((): number => {
      const cutoff = Date.now() - olderThanMs;
      const oldSeq = db.prepare('SELECT max(last_seq) FROM commits WHERE at < ?').pluck().get(cutoff) as number | null;
      const byAge = oldSeq === null ? 0 : db.prepare('DELETE FROM events WHERE seq <= ?').run(oldSeq).changes;
      db.prepare('DELETE FROM commits WHERE at < ?').run(cutoff);
      const maxSeq = this.stmt.lastSeq.get() as number | null;
      const byCount = maxSeq === null ? 0 : db.prepare('DELETE FROM events WHERE seq <= ?').run(maxSeq - maxEvents).changes;
      return byAge + byCount;
    });
  }

  count(): number {
    return this.conn.count('SELECT count(*) AS n FROM events');
  }
}
