/**
 * The SQLite connection every aggregate module of the embedded store shares: the file, its pragmas, the
 * migrations, transactions and the paged list query. One connection, one writer: a transaction opened by the
 * engine (src/store/sqlite.ts) spans the aggregates' statements.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS, SCHEMA_MIGRATIONS_DDL, checkNotNewer, migrationSql } from '../migrations.js';
import { pageQueries, type Dialect, type Row, type Where } from '../rows.js';
import type { Page } from '../types.js';

export interface SqliteStoreOptions {
  /** Database file path, or ':memory:' for tests. */
  path: string;
  durability?: 'full' | 'normal';
}

/** SQLite: `?` placeholders, booleans stored as 0/1, NOCASE collation for host matching. */
export const SQLITE: Dialect = {
  placeholder: () => '?',
  hostEquals: 'host = ? COLLATE NOCASE',
  readBool: (v) => v === 1,
  writeBool: (b) => (b ? 1 : 0),
};

export class SqliteDb {
  readonly db: Database.Database;

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.durability === 'normal' ? 'NORMAL' : 'FULL'}`);
    this.db.pragma('busy_timeout = 5000');
    migrateSqlite(this.db, options.path);
  }

  /** Runs `fn` in one transaction (nested calls become savepoints). */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** One page of a list and the total its filter matches. */
  page<T>(table: string, where: Where, order: string, q: { limit: number; offset: number }, map: (r: Row) => T): Page<T> {
    const { count, rows } = pageQueries(table, where, order, q);
    const total = (this.db.prepare(count.sql).get(...count.args) as Row).n as number;
    return { total, items: (this.db.prepare(rows.sql).all(...rows.args) as Row[]).map(map) };
  }

  count(sql: string): number {
    return (this.db.prepare(sql).get() as Row).n as number;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Applies the migrations this data directory lacks, each in its own transaction with its schema_migrations row. */
function migrateSqlite(db: Database.Database, path: string): void {
  db.exec(SCHEMA_MIGRATIONS_DDL);
  const applied = db.prepare('SELECT coalesce(max(version), 0) FROM schema_migrations').pluck().get() as number;
  checkNotNewer(applied, path);
  const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
  for (const m of MIGRATIONS) {
    if (m.version <= applied) continue;
    try {
      db.transaction(() => {
        db.exec(migrationSql(m, 'sqlite'));
        record.run(m.version, Date.now());
      })();
    } catch (err) {
      throw new Error(`${path}: schema migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
    }
  }
}
