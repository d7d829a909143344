/**
 * The real services the scale-out tests need: PostgreSQL and NATS JetStream (never mocked). Where they live
 * comes from PROCWATCH_TEST_PG / PROCWATCH_TEST_NATS (defaults: the local services). When one is not
 * reachable the tests FAIL with a message saying which and how to point at it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect } from 'nats';
import { PostgresStore } from '../../../src/store/postgres.js';

export const PG_URL = process.env.PROCWATCH_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
export const NATS_URL = process.env.PROCWATCH_TEST_NATS ?? 'nats://127.0.0.1:4222';

/** A name unique to this run (schemas, streams): tests running at once never share state. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export async function requirePostgres(): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${PG_URL} (${(err as Error).message}); start it or set PROCWATCH_TEST_PG`);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function requireNats(): Promise<void> {
  try {
    const nc = await connect({ servers: NATS_URL, timeout: 3000, reconnect: false });
    await (await nc.jetstreamManager()).getAccountInfo();
    await nc.close();
  } catch (err) {
    throw new Error(`NATS JetStream is not reachable at ${NATS_URL} (${(err as Error).message}); start nats-server -js or set PROCWATCH_TEST_NATS`);
  }
}

/** A store in a fresh schema of its own; `drop()` removes the schema and closes the pool. */
export async function freshStore(schema = uniqueName('pw_test')): Promise<PostgresStore & { drop(): Promise<void> }> {
  const store = await new PostgresStore({ url: PG_URL, schema }).open();
  return Object.assign(store, {
    async drop(): Promise<void> {
      await store.dropSchema();
      await store.close();
    },
  });
}
