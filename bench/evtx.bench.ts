/**
 * EVTX parsing throughput against the peer tools, on one large file built by replicating the chunks of clean
 * corpus files (bench/.data/, git-ignored; chunks are self-contained, so a file of copied chunks is a valid log).
 *
 * Measured (each in its own process, peak RSS from GNU time, best of PROCWATCH_BENCH_REPEAT runs):
 *   - procwatch full dump: every record → evtx_dump-shaped JSON → JSONL (written to /dev/null)
 *   - procwatch decodeEvtxFile: every record → WinEvent (what `scan` consumes)
 *   - procwatch decodeEvtxFile with the certreq rule's literals as prefilter (what `scan` does)
 *   - evtxexport -f xml (libevtx, Debian libevtx-utils)
 *   - evtx_dump.py (python-evtx, Debian python3-evtx): too slow for the whole file, so it runs on a subset
 *     and its rate is extrapolated (said so in the output)
 *
 * Env: PROCWATCH_BENCH_EVTX_MB (default 256), PROCWATCH_BENCH_PY_MB (default 8), PROCWATCH_BENCH_REPEAT (default 1).
 * Standalone: node --import tsx bench/evtx.bench.ts
 */
import { createWriteStream, existsSync, openSync, readFileSync, closeSync, writeSync, statSync, renameSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { dataDir, fmt, SHARED, timeCommand } from './lib.js';

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
];

// --- child modes: one measurement per process, so peak RSS belongs to it alone -------------------------------

async function childDump(file: string): Promise<void> {
  const { parseEvtxFile, recordToJson } = await import('../src/evtx/index.js');
  const out = createWriteStream('/dev/null');
  let records = 0;
  let errors = 0;
  let pending = '';
  for await (const item of parseEvtxFile(file)) {
    if ('error' in item) {
      errors++;
      continue;
    }
    records++;
    pending += JSON.stringify(recordToJson(item.record.root())) + '\n';
    if (pending.length > 1 << 16) {
      if (!out.write(pending)) await once(out, 'drain');
      pending = '';
    }
  }
  out.end(pending);
  await once(out, 'finish');
  process.stdout.write(JSON.stringify({ records, errors }) + '\n');
}

async function childDecode(file: string, prefilter: boolean): Promise<void> {
  const { decodeEvtxFile } = await import('../src/formats/evtxFile.js');
  let events = 0;
  let errors = 0;
  let certreq = 0;
  const options = prefilter ? { prefilterLiterals: ['certreq', 'post', 'config', 'http', 'win.ini'] } : {};
  for await (const item of decodeEvtxFile(file, options)) {
    if ('error' in item) errors++;
    else {
      events++;
      const ofn = item.event.data['OriginalFileName'];
      if (typeof ofn === 'string' && ofn.toLowerCase().includes('certreq')) certreq++;
    }
  }
  process.stdout.write(JSON.stringify({ records: events, errors, certreq }) + '\n');
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

/** Writes (or reuses) a file of `targetMb` MiB of corpus chunks, round-robin over the sources. */
function buildInput(name: string, targetMb: number, chunks: { bytes: Uint8Array }[]): string {
  const path = join(dataDir(), name);
  const count = Math.ceil((targetMb * 1048576 - HEADER) / CHUNK);
  const size = HEADER + count * CHUNK;
  if (existsSync(path) && statSync(path).size === size) return path;
  const tmp = `${path}.partial`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, fileHeader(count));
    for (let i = 0; i < count; i++) writeSync(fd, chunks[i % chunks.length]!.bytes);
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

async function main(): Promise<void> {
  const targetMb = Number(process.env['PROCWATCH_BENCH_EVTX_MB'] ?? 256);
  const pyMb = Number(process.env['PROCWATCH_BENCH_PY_MB'] ?? 8);
  const repeat = Number(process.env['PROCWATCH_BENCH_REPEAT'] ?? 1);
  const chunks = cleanChunks();
  const big = buildInput(`evtx-bench-${targetMb}mb.evtx`, targetMb, chunks);
  const small = buildInput(`evtx-bench-${pyMb}mb.evtx`, pyMb, chunks);
  const bigMb = statSync(big).size / 1048576;
  const smallMb = statSync(small).size / 1048576;
  console.log(`input: ${big} — ${fmt(bigMb, 0)} MiB, ${Math.round((bigMb * 1048576 - HEADER) / CHUNK)} chunks copied round-robin from ${chunks.length} clean chunks of ${SOURCES.length} corpus files`);
  console.log('machine: 2 cores shared with other work — figures are noisy; ratios on the same run are the useful part');

  const rows: Row[] = [];
  const dump = runChild('dump', big, repeat);
  rows.push({ name: 'procwatch: full dump → JSONL', mb: bigMb, seconds: dump.t.seconds, records: dump.records, rssMb: dump.t.maxRssMb, note: dump.errors ? `${dump.errors} error items` : '' });
  const decode = runChild('decode', big, repeat);
  rows.push({ name: 'procwatch: decodeEvtxFile → WinEvent', mb: bigMb, seconds: decode.t.seconds, records: decode.records, rssMb: decode.t.maxRssMb });
  const scan = runChild('scan', big, repeat);
  rows.push({ name: 'procwatch: decode + certreq prefilter', mb: bigMb, seconds: scan.t.seconds, records: dump.records, rssMb: scan.t.maxRssMb, note: `${scan.records} records passed the prefilter` });

  let evtxexportRow: Row | undefined;
  if (commandExists('evtxexport')) {
    const t = timeCommand(['evtxexport', '-f', 'xml', big], { repeat, stdoutToNull: true });
    evtxexportRow = { name: 'evtxexport -f xml (libevtx)', mb: bigMb, seconds: t.seconds, records: dump.records, rssMb: t.maxRssMb, note: t.status === 0 ? '' : `exit ${t.status}` };
    rows.push(evtxexportRow);
  } else console.log('evtxexport not installed (apt-get install libevtx-utils): skipped');
  if (commandExists('evtx_dump.py')) {
    const subset = runChild('dump', small, 1);
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
        r.name.padEnd(40),
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
  console.log(`\nrecords in the input: ${dump.records}; targets (issue 3): full parse ≥ 10× evtxexport, scan ≥ 30×, peak RSS < 300 MB`);
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  const mode = process.argv[childAt + 1];
  const file = process.argv[childAt + 2]!;
  if (mode === 'dump') await childDump(file);
  else if (mode === 'decode') await childDecode(file, false);
  else if (mode === 'scan') await childDecode(file, true);
  else throw new Error(`unknown child mode ${mode}`);
} else {
  await main();
}
