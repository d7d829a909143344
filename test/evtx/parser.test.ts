/**
 * Focused tests of the EVTX parser on real corpus files: counts, the fields of a known record, the
 * evtx_dump JSON shape, damaged files, the WinEvent adapter and the soundness of the literal prefilter.
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  compileLiterals,
  fileHeaderInfo,
  parseEvtxBuffer,
  parseEvtxFile,
  recordMayContain,
  recordToJson,
  recordToXml,
  renderEvtxFile,
  type EvtxError,
  type EvtxRecord,
  type XmlNode,
} from '../../src/evtx/index.js';
import { decodeEvtxFile } from '../../src/formats/evtxFile.js';
import { structureVerdicts } from '../../src/evtx/prefilter.js';
import { compileByteSearch } from '../../src/evtx/literalBytes.js';
import { ChunkRecord } from '../../src/evtx/record.js';
import { allCorpusEvtxFiles } from './support/corpus.js';
import type { WinEvent } from '../../src/model/event.js';
import { CORPUS } from '../helpers/paths.js';

const EVTX = join(CORPUS, 'evtx');
const CRATE = join(EVTX, 'evtx-crate');

async function collect(path: string): Promise<{ records: EvtxRecord[]; errors: EvtxError[] }> {
  const records: EvtxRecord[] = [];
  const errors: EvtxError[] = [];
  for await (const item of parseEvtxFile(path)) {
    if ('record' in item) records.push(item.record);
    else errors.push(item.error);
  }
  return { records, errors };
}

function allText(node: XmlNode, out: string[] = []): string[] {
  if (node.kind === 'text' || node.kind === 'cdata') out.push(node.text);
  if (node.kind === 'element') {
    for (const a of node.attributes) if (a.name !== 'xmlns' && !a.name.startsWith('xmlns:')) out.push(a.value); // namespace declarations are not event data
    for (const c of node.children) allText(c, out);
  }
  return out;
}

test('sysmon.evtx and security.evtx yield every record and no error', async () => {
  const sysmon = await collect(join(CRATE, 'sysmon.evtx'));
  assert.equal(sysmon.records.length, 358);
  assert.deepEqual(sysmon.errors, []);
  const security = await collect(join(CRATE, 'security.evtx'));
  assert.equal(security.records.length, 2261);
  assert.deepEqual(security.errors, []);
  // Record ids run 1..2261 in order in this undamaged file.
  assert.deepEqual(security.records.map((r) => r.recordId).slice(0, 3), [1, 2, 3]);
  assert.equal(security.records[2260]!.recordId, 2261);
});

test('a known Sysmon EID 1 record renders its System header and EventData as Windows does', async () => {
  const file = join(EVTX, 'sigma-regression', 'proc_creation_win_certutil_download__19b08b1c-861d-4e75-a1ef-ea0c1baf202b.evtx');
  const { records, errors } = await collect(file);
  assert.deepEqual(errors, []);
  assert.equal(records.length, 1);
  const rec = records[0]!;
  assert.equal(rec.recordId, 1); // the record header's id; EventRecordID in the event says 11537869
  assert.equal(rec.chunkIndex, 0);
  assert.equal(rec.offset, 4096 + 512);
  assert.match(rec.timestamp, /^2025-10-25T17:02:36\.\d{7}Z$/);
  const xml = recordToXml(rec.root());
  assert.match(xml, /<Provider Name="Microsoft-Windows-Sysmon" Guid="\{5770385F-C22A-43E0-BF4C-06F5698FFBD9\}"\/>/);
  assert.match(xml, /<TimeCreated SystemTime="2025-10-25T17:02:36\.9006378Z"\/>/);
  assert.match(xml, /<Data Name="LogonId">0x529ae3<\/Data>/);
  assert.match(xml, /<Security UserID="S-1-5-18"\/>/);
  assert.match(xml, /<Correlation\/>/);
  assert.match(xml, /<EventRecordID>11537869<\/EventRecordID>/);
});

test('JSON follows the evtx_dump shape and types of the golden file (GUID braces and time digits aside)', async () => {
  const base = join(EVTX, 'sigma-regression', 'proc_creation_win_certutil_download__19b08b1c-861d-4e75-a1ef-ea0c1baf202b');
  const golden = JSON.parse(readFileSync(base + '.json', 'utf8')) as { Event: { System: Record<string, unknown>; EventData: Record<string, unknown> } };
  const { records } = await collect(base + '.evtx');
  const ours = recordToJson(records[0]!.root()) as { Event: { System: Record<string, unknown>; EventData: Record<string, unknown> } };
  const normalise = (v: unknown): unknown =>
    JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' ? x.replace(/[{}]/g, '').replace(/(\.\d{6})\d*Z$/, '$1Z').trimEnd() : x)));
  assert.deepEqual(normalise(ours.Event.System), normalise(golden.Event.System));
  assert.deepEqual(normalise(ours.Event.EventData), normalise(golden.Event.EventData));
  assert.equal(ours.Event.EventData.ProcessId, 6484); // typed, not "6484"
});

test('damaged files are read to the end, with every problem located and reported', async () => {
  const badMagic = await collect(join(CRATE, 'sample_with_a_bad_chunk_magic.evtx'));
  assert.ok(badMagic.records.length >= 270, `got ${badMagic.records.length}`);
  const magicErrors = badMagic.errors.filter((e) => /bad chunk signature/.test(e.reason));
  assert.deepEqual(magicErrors.map((e) => e.chunkIndex), [6, 10]);

  const vss = await collect(join(CRATE, '2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx'));
  assert.ok(vss.records.length >= 1910, `got ${vss.records.length}`);
  assert.ok(vss.errors.some((e) => /checksum mismatch/.test(e.reason)));
  for (const e of vss.errors) assert.ok(e.chunkIndex !== undefined && e.offset !== undefined, JSON.stringify(e));

  const zeroSize = await collect(join(CRATE, 'sample-with-zero-data-size-event.evtx'));
  assert.ok(zeroSize.records.length >= 335);
  assert.ok(zeroSize.errors.some((e) => /size fields disagree \(size 0\)/.test(e.reason)));

  // A record whose trailing size copy was wiped still decodes (the Rust crate counts 6 here).
  const hello = await collect(join(CRATE, 'Microsoft-Windows-HelloForBusiness%4Operational.evtx'));
  assert.equal(hello.records.length, 6);
});

test('truncated and corrupted buffers never throw', () => {
  const buf = readFileSync(join(CRATE, 'security.evtx'));
  const cuts = [0, 10, 127, 128, 4096, 4096 + 511, 4096 + 512 + 100, 4096 + 65536 + 3000];
  for (const cut of cuts) {
    let items = 0;
    for (const _ of parseEvtxBuffer(buf.subarray(0, cut), `cut${cut}`)) items++;
    assert.ok(items >= 0);
  }
  const copy = Buffer.from(buf.subarray(0, 4096 + 65536 * 2));
  // Overwrite the middle of the first chunk's records with garbage.
  for (let i = 4096 + 20000; i < 4096 + 24000; i++) copy[i] = (i * 7919) & 0xff;
  let records = 0;
  let errors = 0;
  for (const item of parseEvtxBuffer(copy, 'garbled')) {
    if ('record' in item) records++;
    else errors++;
  }
  assert.ok(errors > 0);
  assert.ok(records > 100, `records after the damage are still read (${records})`);
});

test('file header: version, flags and checksum', () => {
  const v31 = fileHeaderInfo(readFileSync(join(CRATE, 'security.evtx')).subarray(0, 4096));
  assert.equal(v31.version, '3.1');
  assert.equal(v31.magicOk, true);
  assert.equal(v31.checksumOk, true);
  const v32 = fileHeaderInfo(readFileSync(join(CRATE, 'Application_no_crc32.evtx')).subarray(0, 4096));
  assert.equal(v32.version, '3.2');
  assert.equal(v32.noCrc32, true);
});

test('templateless (WEC) records are rendered', async () => {
  const { records, errors } = await collect(join(CRATE, 'MSExchange_Management_wec.evtx'));
  assert.deepEqual(errors, []);
  assert.equal(records.length, 1);
  const xml = recordToXml(records[0]!.root());
  assert.match(xml, /<Provider Name="MSExchange CmdletLogs"\/>/);
  assert.match(xml, /<Data>Set-Mailbox<\/Data>/);
});

test('the adapter builds WinEvents with System fields, EventData and origin', async () => {
  const file = join(EVTX, 'synthetic', 'certreq_sysmon_eid1_synthetic.evtx');
  const events: WinEvent[] = [];
  for await (const item of decodeEvtxFile(file)) {
    assert.ok('event' in item, JSON.stringify(item));
    events.push(item.event);
  }
  assert.equal(events.length, 11);
  const expected = JSON.parse(readFileSync(join(EVTX, 'synthetic', 'EXPECTED.json'), 'utf8')) as Record<string, { EventRecordID: number; image: string; ofn: string; cmd: string }[]>;
  for (const want of expected['certreq_sysmon_eid1_synthetic.evtx']!) {
    const ev = events.find((e) => e.system.recordId === want.EventRecordID);
    assert.ok(ev, `record ${want.EventRecordID}`);
    assert.equal(ev.data.Image, want.image);
    assert.equal(ev.data.OriginalFileName, want.ofn);
    assert.equal(ev.data.CommandLine, want.cmd);
  }
  const first = events[0]!;
  assert.equal(first.system.provider, 'Microsoft-Windows-Sysmon');
  assert.equal(first.system.eventId, 1);
  assert.equal(first.system.channel, 'Microsoft-Windows-Sysmon/Operational');
  assert.equal(first.system.processId, 3308);
  assert.equal(first.system.userSid, 'S-1-5-18');
  assert.deepEqual({ ...first.origin }, { file, chunk: 0, offset: 4096 + 512, dialect: 'evtx', index: 0 });
});

test('the literal prefilter never drops a record whose values contain a literal, and drops others', async () => {
  const literals = ['certreq', 'post', 'config', 'http', 'win.ini', 'svchost'];
  const set = compileLiterals(literals);
  assert.ok(set);
  let skipped = 0;
  let total = 0;
  for (const name of ['sysmon.evtx', 'security.evtx', '../synthetic/certreq_sysmon_eid1_synthetic.evtx', '../attack/sb_Sysmon_UACME_22.evtx']) {
    for await (const item of parseEvtxFile(join(CRATE, name))) {
      if (!('record' in item)) continue;
      total++;
      const text = allText(item.record.root()).join('\u0001').toLowerCase();
      const hit = literals.some((l) => text.includes(l));
      const may = recordMayContain(item.record, set);
      if (hit) assert.ok(may, `record ${item.record.recordId} of ${name} contains a literal but was excluded`);
      if (!may) skipped++;
    }
  }
  assert.ok(skipped > total / 4, `prefilter should exclude many records (${skipped}/${total})`);
  // Literals that formatted numbers/GUIDs could produce disable the prefilter rather than risk a miss.
  assert.equal(compileLiterals(['0x1f']), null);
  assert.equal(compileLiterals(['a,b']), null);
});

test('both byte searches of the prefilter (anchors, patterns) find the same literal starts in every corpus chunk', () => {
  const sets = [['certreq', 'win.ini'], ['http', 'microsoft'], ['kerberos', 'svchost.exe', 'wininit']];
  let hits = 0;
  let chunks = 0;
  for (const literals of sets) {
    const anchors = compileByteSearch(literals, 'anchors');
    const patterns = compileByteSearch(literals, 'patterns');
    for (const file of allCorpusEvtxFiles()) {
      const bytes = readFileSync(file);
      for (let off = 4096; off < bytes.length; off += 65536) {
        const chunk = bytes.subarray(off, Math.min(off + 65536, bytes.length));
        const a = anchors.starts(chunk);
        assert.deepEqual(a, patterns.starts(chunk), `${file} chunk at ${off} (${literals.join(',')})`);
        hits += a.length;
        chunks++;
      }
    }
  }
  assert.ok(hits > 1000, `literal starts found: ${hits} in ${chunks} chunks`);
  // Case folding, alignment and the two non-ASCII folds, on hand-made bytes.
  const text = Buffer.concat([Buffer.from('xCeRtReQx', 'latin1'), Buffer.from('yWIN.INI\u212a\u0130', 'utf16le'), Buffer.from('zwin.ini', 'latin1')]);
  const odd = Buffer.concat([Buffer.from([0x41]), Buffer.from('PAR\u212a HOP\u0130', 'utf16le')]);
  for (const method of ['anchors', 'patterns'] as const) {
    const search = compileByteSearch(['certreq', 'win.ini', 'park', 'hopi'], method);
    assert.deepEqual(search.starts(text), [1, 11, 30], method);
    assert.deepEqual(search.starts(odd), [1, 11], method);
  }
});

test('the quick structural reading of the prefilter agrees with the full parse on every corpus record it answers', async () => {
  let answered = 0;
  let total = 0;
  for (const literals of [['certreq', 'win.ini'], ['http'], ['microsoft']]) {
    const set = compileLiterals(literals)!;
    for (const file of allCorpusEvtxFiles()) {
      // Lazily parsed, as in a scan: the quick reading meets each template's first use in a chunk.
      for await (const item of parseEvtxFile(file, { lazy: true })) {
        if (!('record' in item) || !(item.record instanceof ChunkRecord)) continue;
        const { quick, full } = structureVerdicts(item.record, set);
        total++;
        if (quick === null) continue;
        answered++;
        // Where the full parse finds damage, the quick reading must not have answered "cannot contain":
        // the record is then parsed and its damage reported.
        assert.equal(quick, full instanceof Error ? true : full, `${file} record ${item.record.recordId} (${literals.join(',')})`);
      }
    }
  }
  assert.ok(answered > total * 0.8, `the quick reading answered ${answered} of ${total}`);
});

test('rendering on worker threads gives the same records, in the same order, as on one thread', async () => {
  const file = join(CRATE, 'sample_with_a_bad_chunk_magic.evtx'); // 17 chunks: two blocks, damage in both
  const collectText = async (threads: number): Promise<{ text: string; errors: string[] }> => {
    let text = '';
    const errors: string[] = [];
    for await (const block of renderEvtxFile(file, { format: 'jsonl', threads })) {
      // JSONL blocks come as UTF-8 bytes (moved between threads without a copy).
      text += block.bytes ? Buffer.from(block.bytes.buffer, block.bytes.byteOffset, block.bytes.byteLength).toString('utf8') : block.text;
      for (const e of block.errors) errors.push(`${e.chunkIndex}:${e.offset}:${e.reason}`);
    }
    return { text, errors };
  };
  const one = await collectText(1);
  const two = await collectText(2);
  assert.equal(two.text, one.text);
  assert.deepEqual(two.errors, one.errors);
  // The same records as the streaming parser yields.
  const { records } = await collect(file);
  assert.equal(one.text.split('\n').filter((l) => l !== '').length, records.length);
  assert.equal(JSON.parse(one.text.split('\n')[0]!).Event.System.EventRecordID, records[0]!.recordId);
});

test('dump writes JSONL for every record and reports damage on stderr', async () => {
  const { PassThrough } = await import('node:stream');
  const { dumpEvtx } = await import('../../src/cli/dump.js');
  const run = async (file: string, format: 'jsonl' | 'xml'): Promise<{ code: number; out: string; err: string }> => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await dumpEvtx(file, { format, checksums: true }, stdout, stderr);
    return { code, out, err };
  };
  const ok = await run(join(CRATE, 'new-user-security.evtx'), 'jsonl');
  assert.equal(ok.code, 0);
  assert.equal(ok.err, '');
  const lines = ok.out.trim().split('\n');
  assert.equal(lines.length, 4);
  for (const l of lines) assert.ok((JSON.parse(l) as { Event: { System: unknown } }).Event.System);
  const damaged = await run(join(CRATE, 'sample_with_a_bad_chunk_magic.evtx'), 'xml');
  assert.equal(damaged.code, 0);
  assert.match(damaged.err, /chunk 6 offset 0x61000: bad chunk signature/);
  assert.equal((damaged.out.match(/<Event /g) ?? []).length, 301);
  const missing = await run(join(CRATE, 'no-such-file.evtx'), 'jsonl');
  assert.equal(missing.code, 2);
});

test('XML output stays well-formed when values hold characters XML cannot carry; JSON keeps them exactly', async () => {
  const { records } = await collect(join(CRATE, 'security.evtx'));
  const withControl = records.find((r) => /\u0003/.test(allText(r.root()).join('')));
  assert.ok(withControl, 'security.evtx has a value with U+0003 (MinPasswordAge)');
  const xml = recordToXml(withControl.root());
  assert.doesNotMatch(xml, /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
  assert.match(xml, /<Data Name="MinPasswordAge">\u2403<\/Data>/);
  const json = recordToJson(withControl.root()) as { Event: { EventData: Record<string, unknown> } };
  assert.equal(json.Event.EventData.MinPasswordAge, '\u0003');
});

test('decoding on worker threads yields the same events and errors, in the same order, as on one thread', async () => {
  for (const name of ['security.evtx', 'sample_with_a_bad_chunk_magic.evtx']) {
    const file = join(CRATE, name);
    const run = async (threads: number, prefilterLiterals: string[] | null): Promise<unknown[]> => {
      const items: unknown[] = [];
      for await (const item of decodeEvtxFile(file, { threads, prefilterLiterals })) items.push(item);
      return items;
    };
    const one = await run(1, null);
    const two = await run(2, null);
    assert.ok(one.length > 250);
    assert.deepEqual(two, one);
    assert.deepEqual(await run(2, ['svchost']), await run(1, ['svchost']));
  }
});

/**
 * A one-chunk EVTX image written byte by byte: `defs` are template definitions placed at fixed chunk offsets,
 * and one record whose BinXml is `recordBinXml`. Checksums are not maintained (parse with validateChecksums off).
 */
function craftedFile(recordBinXml: number[], defs: { offset: number; id: number; body: number[] }[], names: { offset: number; name: string }[]): Buffer {
  const file = Buffer.alloc(4096 + 65536);
  file.write('ElfFile\0', 0, 'latin1');
  file.writeUInt16LE(1, 36);
  file.writeUInt16LE(3, 38);
  file.writeUInt16LE(1, 42);
  const chunk = file.subarray(4096);
  chunk.write('ElfChnk\0', 0, 'latin1');
  chunk.writeUInt32LE(1, 24); // first record id
  chunk.writeUInt32LE(1, 32); // last record id
  const size = 24 + recordBinXml.length + 4;
  chunk.writeUInt32LE(512 + size, 48); // free space offset
  chunk.writeUInt32LE(0x2a2a, 512);
  chunk.writeUInt32LE(size, 516);
  chunk.writeUInt32LE(1, 520);
  Buffer.from(recordBinXml).copy(chunk, 536);
  chunk.writeUInt32LE(size, 512 + size - 4);
  for (const d of defs) {
    chunk.writeUInt32LE(d.id, d.offset + 4); // GUID: its first 4 bytes are the template id
    chunk.writeUInt32LE(d.body.length, d.offset + 20);
    Buffer.from(d.body).copy(chunk, d.offset + 24);
  }
  for (const n of names) {
    chunk.writeUInt16LE(n.name.length, n.offset + 6);
    chunk.write(n.name, n.offset + 8, 'utf16le');
  }
  return file;
}

const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
/** Template instance token with no values, pointing at a definition elsewhere in the chunk. */
const instance = (id: number, offset: number): number[] => [0x0c, 0x01, ...u32(id), ...u32(offset), ...u32(0)];
const FRAGMENT = [0x0f, 0x01, 0x01, 0x00];

test('a template that instantiates itself is reported, not recursed into', () => {
  const self = 0x8000;
  const file = craftedFile([...FRAGMENT, ...instance(7, self), 0x00], [{ offset: self, id: 7, body: [...FRAGMENT, ...instance(7, self), 0x00] }], []);
  const items = [...parseEvtxBuffer(file, 'self.evtx', { validateChecksums: false })];
  assert.equal(items.length, 1);
  assert.ok('error' in items[0]!);
  assert.match((items[0] as { error: EvtxError }).error.reason, /refers to itself/);
});

test('templates fanning out into each other are cut off by the per-record node budget, quickly', () => {
  // D = <E/>; C = 40 × D; B = 40 × C; A = 40 × B: 64 000 elements from a 2 KB record.
  const name = 0xa000;
  const element = [0x01, 0xff, 0xff, ...u32(8), ...u32(name), 0x03];
  const defs = [
    { offset: 0x8000, id: 4, body: [...FRAGMENT, ...element, 0x00] },
    { offset: 0x8100, id: 3, body: [...FRAGMENT, ...Array.from({ length: 40 }, () => instance(4, 0x8000)).flat(), 0x00] },
    { offset: 0x8800, id: 2, body: [...FRAGMENT, ...Array.from({ length: 40 }, () => instance(3, 0x8100)).flat(), 0x00] },
    { offset: 0x9000, id: 1, body: [...FRAGMENT, ...Array.from({ length: 40 }, () => instance(2, 0x8800)).flat(), 0x00] },
  ];
  const file = craftedFile([...FRAGMENT, ...instance(1, 0x9000), 0x00], defs, [{ offset: name, name: 'E' }]);
  const started = Date.now();
  const items = [...parseEvtxBuffer(file, 'fanout.evtx', { validateChecksums: false })];
  assert.ok(Date.now() - started < 2000);
  assert.equal(items.length, 1);
  assert.match((items[0] as { error: EvtxError }).error.reason, /expands to more than/);
  // With less fan-out (C = 4 × D) the same structure renders.
  defs[1]!.body = [...FRAGMENT, ...Array.from({ length: 4 }, () => instance(4, 0x8000)).flat(), 0x00];
  const ok = [...parseEvtxBuffer(craftedFile([...FRAGMENT, ...instance(1, 0x9000), 0x00], defs, [{ offset: name, name: 'E' }]), 'ok.evtx', { validateChecksums: false })];
  assert.ok('record' in ok[0]!, JSON.stringify(ok[0]));
  assert.equal((ok[0] as { record: EvtxRecord }).record.root().kind, 'element');
});
