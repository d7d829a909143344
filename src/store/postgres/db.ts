/**
 * The PostgreSQL connection every aggregate module of the shared store uses: the pool (search_path set to
 * procwatch's schema), the lazy advisory-locked migrations, transactions, the paged list query, and NOTIFY.
 * A transaction opened by the engine (src/store/postgres.ts) hands its client to each aggregate's writer.
 */
import pg from 'pg';
import { MIGRATIONS, SCHEMA_MIGRATIONS_DDL, checkNotNewer, migrationSql } from '../migrations.js';
import { pageQueries, type Dialect, type Row, type Where } from '../rows.js';
import type { Page } from '../types.js';

/** PostgreSQL: `$n` placeholders, real booleans, host matched by lower() (indexed as such). */
export const POSTGRES: Dialect = {
  placeholder: (n) => `$${n}`,
  hostEquals: 'lower(host) = lower(?)',
  readBool: (v) => v === true,
  writeBool: (b) => b,
};

export type Queryable = Pick<pg.PoolClient, 'query'>;

/** BIGINT and COUNT(*) come back as numbers (our values are milliseconds and counts, far below 2^53). */
export const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PgDbOptions {
  /** Connection string without procwatch's own parameters. */
  url: string;
  schema: string;
  poolSize: number;
}

export class PgDb {
  readonly schema: string;
  readonly pool: pg.Pool;
  readonly ready: Promise<void>;

  constructor(options: PgDbOptions) {
    this.schema = options.schema;
    if (!SCHEMA_NAME.test(this.schema)) throw new Error(`store schema "${this.schema}": expected lower-case letters, digits and _`);
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
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

  /** One statement on any pooled connection, once the schema is ready. */
  async q(sql: string, args: unknown[] = []): Promise<Row[]> {
    await this.ready;
    return (await this.pool.query(sql, args)).rows as Row[];
  }

  /** Runs `fn` in one transaction on one connection. */
  async tx<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
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

  /** One page of a list and the total its filter matches. */
  async page<T>(table: string, where: Where, order: string, q: { limit: number; offset: number }, map: (r: Row) => T): Promise<Page<T>> {
    const { count, rows } = pageQueries(table, where, order, q);
    const total = (await this.q(count.sql, count.args))[0]!.n as number;
    return { total, items: (await this.q(rows.sql, rows.args)).map(map) };
  }

  async count(sql: string): Promise<number> {
    return (await this.q(sql))[0]!.n as number;
  }

  /** Announces ids on `channel`; PostgreSQL delivers the notification only if and when the transaction commits. */
  async notify(c: Queryable, channel: string, ids: string[]): Promise<void> {
    // NOTIFY payloads are limited to 8000 bytes: 150 ids of ≤ 40 characters per notification.
    for (let i = 0; i < ids.length; i += 150) {
      await c.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify(ids.slice(i, i + 150))]);
    }
  }

  async close(): Promise<void> {
    await this.ready.catch(() => {});
    if (!this.pool.ended) await this.pool.end();
  }
}

/** Byte order, as PostgreSQL's "C" collation and SQLite compare. */
export function cmp(a: string, b: string): number {
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
