/**
 * EVTX parsing throughput against the peer tools, on inputs built by replicating the chunks of clean corpus files
 * (bench/.data/, git-ignored; chunks are self-contained, so a file of copied chunks is a valid log).
 *
 * Always: a folder of 8 files of 64 MiB through the CLI — `procwatch scan DIR` (default and --fast) and
 * `procwatch dump DIR --format jsonl` — against `evtxexport -f xml` run on each file, compared by CPU seconds
 * (user + system, from GNU time) measured in the same run: the machine is shared, so wall time says little.
 *
 * With PROCWATCH_BENCH_EVTX_MB set, also one large file of that size (issue 3's figures), measured (each in its
 * own process, peak RSS from GNU time, best of PROCWATCH_BENCH_REPEAT runs):
 *   - `procwatch dump --format jsonl` (dumpEvtx; its output counted and dropped) with 2 worker threads and 1 thread
 *   - decodeEvtxFile: every record → WinEvent (what `scan` consumes by default)
 *   - decodeEvtxFile with the built-in rules' literals and keepEvents = the correlator's context events
 *     (Sysmon 1/3/5/11/22, Security 4688/4689): the context-preserving scan path
 *   - decodeEvtxFile with the literals only (what `scan --fast` does)
 *   - evtxexport -f xml (libevtx, Debian libevtx-utils)
 *   - evtx_dump.py (python-evtx, Debian python3-evtx): too slow for the whole file, so it runs on a subset
 *     and its rate is extrapolated (said so in the output)
 *
 * Env: PROCWATCH_BENCH_EVTX_MB (unset: the folder only; 1024 was used: large enough that Node's ~0.25 s start-up
 * and the JIT's warm-up do not dominate, as on the multi-GB logs responders copy off hosts), PROCWATCH_BENCH_PY_MB (default 8),
 * PROCWATCH_BENCH_REPEAT (default 1).
 * Standalone: node --import tsx bench/evtx.bench.ts (uses dist/ when it is built and newer than src/, as
 * `npm run bench` makes it; else the TypeScript sources, where worker threads also pay tsx's start-up).
 */
import { existsSync, mkdirSync, openSync, readFileSync, closeSync, writeSync, statSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { createHash } from 'node:crypto';
import { dataDir, fmt, REPO, SHARED, timeCommand } from './lib.js';

const HEADER = 4096;
const CHUNK = 65536;
const SELF = fileURLToPath(import.meta.url);

/** Clean corpus files (no damage per VALIDATION.tsv): Security, System, Sysmon, Shell-Core, LiveId, attack samples. */
const SOURCES = [
  'evtx/evtx-crate/security.evtx',
  'evtx/evtx-crate/system.evtx',
  'evtx/evtx-crate/sysmon.evtx',
  'evtx/evtx-crate/Security_with_size_t.evtx',
  'evtx/evtx-crate/E_Windows_system32_winevt_logs_Microsoft-Windows-Shell-Core%4Operational.evtx',
  'evtx/evtx-crate/2-system-Microsoft-Windows-LiveId%4Operational.evtx',
  'evtx/attack/sb_PanacheSysmon_vs_AtomicRedTeam01.evtx',
  'evtx/attack/hy_ID4688-Obfuscated_payload_transfer_via_service_name_-_Tchopper.evtx',
  'evtx/attack/hy_ID4688-5447-4950-Firewall_disabled_command_.evtx',
  'evtx/attack/sb_persistence_sysmon_11_13_1_shime_appfix.evtx',
  // Real Sysmon and Security logs with certreq upload/download records appended: the scans raise alerts.
  'evtx/synthetic/certreq_sysmon_eid1_synthetic.evtx',
  'evtx/synthetic/certreq_security_4688_synthetic.evtx',
];

// --- child modes: one measurement per process, so peak RSS belongs to it alone -------------------------------

/**
 * The compiled build when it is there and current (`npm run bench` builds first): worker threads then load plain
 * JS as in production; else the TypeScript sources through tsx.
 */
const DIST = join(REPO, 'dist');
function modulePath(rel: string): string {
  const js = join(DIST, `${rel}.js`);
  const ts = join(REPO, 'src', `${rel}.ts`);
  return existsSync(join(DIST, 'evtx', 'render', 'jsonDirect.js')) && statSync(js).mtimeMs >= statSync(ts).mtimeMs ? js : ts;
}

/** The correlator's context events, as `scan` passes them with keepEvents. */
const CONTEXT_EVENTS = [
  { provider: 'Microsoft-Windows-Sysmon', eventIds: [1, 3, 5, 11, 22] },
  { provider: 'Microsoft-Windows-Security-Auditing', eventIds: [4688, 4689] },
];
/** The built-in rules' sound literal set (what `scan --fast` passes). */
const RULE_LITERALS = ['certreq', 'win.ini'];

async function childDump(file: string, threads: number): Promise<void> {
  const { dumpEvtx } = (await import(modulePath('cli/dump'))) as typeof import('../src/cli/dump.js');
  const { Writable } = await import('node:stream');
  let errText = '';
  let records = 0;
  const stderr = new Writable({
    write(c: Buffer, _e, cb): void {
      errText += c.toString();
      cb();
    },
  });
  // The dump's output is consumed here (instead of /dev/null) to count its lines: one per record.
  const stdout = new Writable({
    write(c: Buffer | string, _e, cb): void {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) records++;
      cb();
    },
  });
  const code = await dumpEvtx(file, { format: 'jsonl', checksums: true, threads }, stdout, stderr);
  if (code !== 0) throw new Error(`dump exit ${code}: ${errText.slice(0, 300)}`);
  process.stdout.write(JSON.stringify({ records, errors: errText.split('\n').filter((l) => l !== '').length }) + '\n');
}

async function childDecode(file: string, mode: 'full' | 'keep' | 'literals'): Promise<void> {
  const { decodeEvtxFile } = (await import(modulePath('formats/evtxFile'))) as typeof import('../src/formats/evtxFile.js');
  let events = 0;
  let errors = 0;
  const options = mode === 'full' ? {} : mode === 'keep' ? { prefilterLiterals: RULE_LITERALS, keepEvents: CONTEXT_EVENTS } : { prefilterLiterals: RULE_LITERALS };
  for await (const item of decodeEvtxFile(file, options)) {
    if ('error' in item) errors++;
    else events++;
  }
  process.stdout.write(JSON.stringify({ records: events, errors }) + '\n');
}

// --- input --------------------------------------------------------------------------------------------------

function chunkIsClean(c: Uint8Array): boolean {
  if (Buffer.from(c.subarray(0, 8)).toString('latin1') !== 'ElfChnk\0') return false;
  const v = new DataView(c.buffer, c.byteOffset, c.byteLength);
  const free = v.getUint32(48, true);
  if (free <= 512 || free > CHUNK) return false;
  const headerOk = crc32(c.subarray(128, 512), crc32(c.subarray(0, 120))) === v.getUint32(124, true);
  const recordsOk = crc32(c.subarray(512, free)) === v.getUint32(52, true);
  return headerOk && recordsOk;
}

function cleanChunks(): { source: string; bytes: Uint8Array }[] {
  const out: { source: string; bytes: Uint8Array }[] = [];
  for (const rel of SOURCES) {
    const buf = new Uint8Array(readFileSync(join(SHARED, rel)));
    for (let off = HEADER; off + CHUNK <= buf.length; off += CHUNK) {
      const c = buf.subarray(off, off + CHUNK);
      if (chunkIsClean(c)) out.push({ source: rel, bytes: c });
    }
  }
  return out;
}

function fileHeader(chunkCount: number): Uint8Array {
  const h = new Uint8Array(HEADER);
  const v = new DataView(h.buffer);
  h.set(Buffer.from('ElfFile\0', 'latin1'), 0);
  v.setBigUint64(8, 0n, true);
  v.setBigUint64(16, BigInt(chunkCount - 1), true);
  v.setBigUint64(24, 1n, true);
  v.setUint32(32, 128, true);
  v.setUint16(36, 1, true);
  v.setUint16(38, 3, true);
  v.setUint16(40, HEADER, true);
  v.setUint16(42, Math.min(chunkCount, 0xffff), true);
  v.setUint32(124, crc32(h.subarray(0, 120)), true);
  return h;
}

/** Writes (or reuses) a file of `targetMb` MiB of corpus chunks, round-robin over the sources from chunk `first`. */
function buildInput(name: string, targetMb: number, chunks: { bytes: Uint8Array }[], first = 0, dir = dataDir()): string {
  const path = join(dir, name);
  const count = Math.ceil((targetMb * 1048576 - HEADER) / CHUNK);
  const size = HEADER + count * CHUNK;
  if (existsSync(path) && statSync(path).size === size) return path;
  const tmp = `${path}.partial`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, fileHeader(count));
    for (let i = 0; i < count; i++) writeSync(fd, chunks[(first + i) % chunks.length]!.bytes);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return path;
}

// --- measurements ----------------------------------------------------------------------------------------------

interface Row {
  name: string;
  mb: number;
  seconds: number;
  records: number;
  rssMb: number;
  note?: string;
}

function runChild(mode: string, file: string, repeat: number): { t: ReturnType<typeof timeCommand>; records: number; errors: number } {
  const t = timeCommand([process.execPath, '--import', 'tsx', SELF, '--child', mode, file], { repeat });
  if (t.status !== 0) throw new Error(`${mode} child failed (${t.status}): ${t.stderr.slice(0, 500)}`);
  const last = t.stdout.trim().split('\n').pop() ?? '{}';
  const parsed = JSON.parse(last) as { records: number; errors: number };
  return { t, records: parsed.records, errors: parsed.errors };
}

function commandExists(cmd: string): boolean {
  return timeCommand(['sh', '-c', `command -v ${cmd}`]).status === 0;
}

/**
 * The folder benchmark (issue 11): a folder of FOLDER_FILES files of FOLDER_MB MiB (each starting the round-robin
 * at another chunk, so the files differ), run through the CLI as a user would: `scan DIR` (default and --fast)
 * and `dump DIR --format jsonl`, against evtxexport over the same files. The machine is shared, so the ratios are
 * of CPU seconds (user + system, children included) measured in the same run, not of wall time.
 */
const FOLDER_FILES = 8;
const FOLDER_MB = 64;

interface FolderRow {
  name: string;
  t: ReturnType<typeof timeCommand>;
  note: string;
}

function folderBench(chunks: { bytes: Uint8Array }[], repeat: number): void {
  const tag = createHash('sha256').update(SOURCES.join('\n')).digest('hex').slice(0, 8);
  const dir = join(dataDir(), `evtx-folder-${FOLDER_FILES}x${FOLDER_MB}mb-${tag}`);
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let k = 0; k < FOLDER_FILES; k++) files.push(buildInput(`part-${k}.evtx`, FOLDER_MB, chunks, Math.floor((k * chunks.length) / FOLDER_FILES), dir));
  const mb = files.reduce((n, f) => n + statSync(f).size, 0) / 1048576;
  console.log(`folder: ${dir} — ${FOLDER_FILES} files, ${fmt(mb, 0)} MiB`);
  const cli = [process.execPath, join(REPO, 'bin', 'procwatch.js')];
  const rows: FolderRow[] = [];
  const check = (name: string, t: ReturnType<typeof timeCommand>, ok: (number | null)[]): ReturnType<typeof timeCommand> => {
    if (!ok.includes(t.status)) throw new Error(`${name} failed (${t.status}): ${t.stderr.slice(0, 500)}`);
    return t;
  };
  for (const [name, extra] of [
    ['procwatch scan DIR (default)', []],
    ['procwatch scan DIR --fast', ['--fast']],
  ] as const) {
    const t = check(name, timeCommand([...cli, 'scan', dir, '--format', 'jsonl', '-o', '/dev/null', '--no-progress', ...extra], { repeat }), [0, 1]);
    const summary = /(\d+) events?, .*?(\d+) alerts?/.exec(t.stderr);
    rows.push({ name, t, note: summary ? `${summary[1]} events decoded, ${summary[2]} alerts` : '' });
  }
  const dump = check('dump', timeCommand([...cli, 'dump', dir, '--format', 'jsonl', '-o', '/dev/null'], { repeat }), [0]);
  rows.push({ name: 'procwatch dump DIR --format jsonl', t: dump, note: dump.stderr.trim() === '' ? '' : dump.stderr.trim().split('\n').pop()! });
  let base: FolderRow | undefined;
  if (commandExists('evtxexport')) {
    // One shell running evtxexport on each file in turn: GNU time counts the CPU of the children it waited for.
    const t = check('evtxexport', timeCommand(['sh', '-c', 'for f in "$@"; do evtxexport -f xml "$f" >/dev/null || exit 1; done', 'sh', ...files], { repeat }), [0]);
    base = { name: 'evtxexport -f xml, each file', t, note: '' };
    rows.push(base);
  } else console.log('evtxexport not installed (apt-get install libevtx-utils): skipped');
  console.log('');
  console.log(['run'.padEnd(36), 'CPU s'.padStart(8), 'wall s'.padStart(8), 'MiB/CPU s'.padStart(10), 'peak RSS'.padStart(10), 'vs evtxexport (CPU)'.padStart(20), '  note'].join(''));
  for (const r of rows) {
    const ratio = base ? base.t.cpuSeconds / r.t.cpuSeconds : NaN;
    console.log(
      [
        r.name.padEnd(36).slice(0, 36),
        fmt(r.t.cpuSeconds, 2).padStart(8),
        fmt(r.t.seconds, 2).padStart(8),
        fmt(mb / r.t.cpuSeconds, 1).padStart(10),
        `${fmt(r.t.maxRssMb, 0)} MB`.padStart(10),
        (Number.isNaN(ratio) ? 'n/a' : `${fmt(ratio, 1)}×`).padStart(20),
        r.note ? `  ${r.note}` : '',
      ].join(''),
    );
  }
  if (base) {
    const ratio = (name: string): string => `${fmt(base.t.cpuSeconds / rows.find((r) => r.name === name)!.t.cpuSeconds, 1)}×`;
    const peak = Math.max(...rows.filter((r) => r !== base).map((r) => r.t.maxRssMb));
    console.log(
      `targets (issue 11, CPU-time ratios): default scan ≥ 30× evtxexport — ${ratio('procwatch scan DIR (default)')}; ` +
        `--fast ≥ 50× — ${ratio('procwatch scan DIR --fast')}; dump --format jsonl ≥ 10× — ${ratio('procwatch dump DIR --format jsonl')}; ` +
        `peak RSS < 300 MB — ${fmt(peak, 0)} MB`,
    );
  }
}

async function main(): Promise<void> {
  const repeatFolder = Number(process.env['PROCWATCH_BENCH_REPEAT'] ?? 1);
  folderBench(cleanChunks(), repeatFolder);
  // The single large file (issue 3's figures): only when asked for, it takes several minutes more.
  if (process.env['PROCWATCH_BENCH_EVTX_MB'] === undefined) {
    console.log('\n(single-file run skipped: set PROCWATCH_BENCH_EVTX_MB, e.g. 1024, for it)');
    return;
  }
  const targetMb = Number(process.env['PROCWATCH_BENCH_EVTX_MB']);
  const pyMb = Number(process.env['PROCWATCH_BENCH_PY_MB'] ?? 8);
  const repeat = Number(process.env['PROCWATCH_BENCH_REPEAT'] ?? 1);
  const chunks = cleanChunks();
  // The name carries a digest of the source list, so a file built from an older list is not reused.
  const tag = createHash('sha256').update(SOURCES.join('\n')).digest('hex').slice(0, 8);
  const big = buildInput(`evtx-bench-${targetMb}mb-${tag}.evtx`, targetMb, chunks);
  const small = buildInput(`evtx-bench-${pyMb}mb-${tag}.evtx`, pyMb, chunks);
  const bigMb = statSync(big).size / 1048576;
  const smallMb = statSync(small).size / 1048576;
  console.log(`input: ${big} — ${fmt(bigMb, 0)} MiB, ${Math.round((bigMb * 1048576 - HEADER) / CHUNK)} chunks copied round-robin from ${chunks.length} clean chunks of ${SOURCES.length} corpus files`);
  console.log('machine: 2 cores shared with other work — figures are noisy; ratios on the same run are the useful part');

  const rows: Row[] = [];
  const dump2 = runChild('dump2', big, repeat);
  const total = dump2.records;
  rows.push({ name: 'procwatch dump → JSONL, 2 threads', mb: bigMb, seconds: dump2.t.seconds, records: total, rssMb: dump2.t.maxRssMb, note: dump2.errors ? `${dump2.errors} problems reported` : '' });
  const dump1 = runChild('dump1', big, repeat);
  rows.push({ name: 'procwatch dump → JSONL, 1 thread', mb: bigMb, seconds: dump1.t.seconds, records: total, rssMb: dump1.t.maxRssMb });
  const decode = runChild('decode', big, repeat);
  rows.push({ name: 'decodeEvtxFile → WinEvent (all)', mb: bigMb, seconds: decode.t.seconds, records: total, rssMb: decode.t.maxRssMb, note: `${decode.records} events` });
  const keep = runChild('keep', big, repeat);
  rows.push({ name: 'decodeEvtxFile literals + keepEvents', mb: bigMb, seconds: keep.t.seconds, records: total, rssMb: keep.t.maxRssMb, note: `${keep.records} events decoded (rule literals + Sysmon 1/3/5/11/22, Security 4688/4689)` });
  const lits = runChild('literals', big, repeat);
  rows.push({ name: 'decodeEvtxFile literals only (--fast)', mb: bigMb, seconds: lits.t.seconds, records: total, rssMb: lits.t.maxRssMb, note: `${lits.records} events decoded` });

  // The product end to end: `procwatch scan` with the built-in rules (start-up, rule compilation, decoding,
  // detection, correlation, output), alerts written as JSONL to /dev/null, the summary read from stderr.
  for (const [name, extra] of [
    ['procwatch scan --fast (CLI)', ['--fast']],
    ['procwatch scan (CLI, default)', []],
  ] as const) {
    const t = timeCommand([process.execPath, join(REPO, 'bin', 'procwatch.js'), 'scan', big, '--format', 'jsonl', '-o', '/dev/null', '--no-progress', ...extra], { repeat });
    if (t.status !== 0 && t.status !== 1) throw new Error(`${name} failed (${t.status}): ${t.stderr.slice(0, 500)}`);
    const summary = /(\d+) events?, .*?(\d+) alerts?/.exec(t.stderr);
    rows.push({ name, mb: bigMb, seconds: t.seconds, records: total, rssMb: t.maxRssMb, note: summary ? `${summary[1]} events decoded, ${summary[2]} alerts` : t.stderr.trim().split('\n').pop() ?? '' });
  }

  let evtxexportRow: Row | undefined;
  if (commandExists('evtxexport')) {
    const t = timeCommand(['evtxexport', '-f', 'xml', big], { repeat, stdoutToNull: true });
    evtxexportRow = { name: 'evtxexport -f xml (libevtx)', mb: bigMb, seconds: t.seconds, records: total, rssMb: t.maxRssMb, note: t.status === 0 ? '' : `exit ${t.status}` };
    rows.push(evtxexportRow);
  } else console.log('evtxexport not installed (apt-get install libevtx-utils): skipped');
  if (commandExists('evtx_dump.py')) {
    const subset = runChild('dump1', small, 1);
    const t = timeCommand(['evtx_dump.py', small], { repeat: 1, stdoutToNull: true });
    rows.push({
      name: 'evtx_dump.py (python-evtx)',
      mb: smallMb,
      seconds: t.seconds,
      records: subset.records,
      rssMb: t.maxRssMb,
      note: `run on a ${fmt(smallMb, 0)} MiB subset; whole file would take ~${fmt((bigMb / (smallMb / t.seconds)) / 60, 0)} min (extrapolated)`,
    });
  } else console.log('evtx_dump.py not installed (apt-get install python3-evtx): skipped');

  const base = evtxexportRow ? evtxexportRow.mb / evtxexportRow.seconds : NaN;
  console.log('');
  console.log(['tool'.padEnd(40), 'MiB'.padStart(7), 's'.padStart(8), 'MiB/s'.padStart(8), 'records/s'.padStart(11), 'peak RSS'.padStart(10), 'vs evtxexport'.padStart(14), '  note'].join(''));
  for (const r of rows) {
    const rate = r.mb / r.seconds;
    console.log(
      [
        r.name.padEnd(40).slice(0, 40),
        fmt(r.mb, 0).padStart(7),
        fmt(r.seconds, 2).padStart(8),
        fmt(rate, 1).padStart(8),
        fmt(r.records / r.seconds, 0).padStart(11),
        `${fmt(r.rssMb, 0)} MB`.padStart(10),
        (Number.isNaN(base) ? 'n/a' : `${fmt(rate / base, 2)}×`).padStart(14),
        r.note ? `  ${r.note}` : '',
      ].join(''),
    );
  }
  console.log(`\nrecords in the input: ${total} (records/s counts every record read, kept or skipped)`);
  if (evtxexportRow) {
    const ratio = (name: string): string => {
      const r = rows.find((x) => x.name === name);
      return r ? `${fmt(r.mb / r.seconds / base, 1)}×` : 'n/a';
    };
    const peak = Math.max(...rows.filter((r) => !r.name.startsWith('evtx')).map((r) => r.rssMb));
    console.log(
      `targets (issue 3): full parse ≥ 10× evtxexport — dump 2 threads ${ratio('procwatch dump → JSONL, 2 threads')}, every record → WinEvent ${ratio('decodeEvtxFile → WinEvent (all)')}; ` +
        `scan ≥ 30× — scan --fast ${ratio('procwatch scan --fast (CLI)')}, default scan (+ correlation's context events) ${ratio('procwatch scan (CLI, default)')}; ` +
        `peak RSS < 300 MB — ${fmt(peak, 0)} MB`,
    );
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  const mode = process.argv[childAt + 1];
  const file = process.argv[childAt + 2]!;
  if (mode === 'dump1') await childDump(file, 1);
  else if (mode === 'dump2') await childDump(file, 2);
  else if (mode === 'decode') await childDecode(file, 'full');
  else if (mode === 'keep') await childDecode(file, 'keep');
  else if (mode === 'literals') await childDecode(file, 'literals');
  else throw new Error(`unknown child mode ${mode}`);
} else {
  await main();
}
