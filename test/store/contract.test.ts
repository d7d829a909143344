// The Store contract (test/store/support/contract.ts), one suite per aggregate, run against both engines: SQLite
// in memory and a real PostgreSQL (PROCWATCH_TEST_PG, default 127.0.0.1:5432), each test in a schema of its own
// that is dropped afterwards.
import { after, before } from 'node:test';
import { SqliteStore } from '../../src/store/index.js';
import { freshStore, requirePostgres, uniqueName } from '../scale/support/services.js';
import { storeContract } from './support/contract.js';

const drops: (() => Promise<void>)[] = [];
const sqlite: SqliteStore[] = [];
before(requirePostgres);
after(async () => {
  for (const d of drops) await d().catch(() => {});
  for (const s of sqlite) await s.close();
});

storeContract('SQLite', async () => {
  const s = new SqliteStore({ path: ':memory:' });
  sqlite.push(s);
  return s;
});

const run = uniqueName('pw_contract');
let n = 0;
storeContract('PostgreSQL', async () => {
  const s = await freshStore(`${run}_${n++}`);
  drops.push(() => s.drop());
  return s;
});
