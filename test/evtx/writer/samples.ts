/**
 * Ready-made fixture files: a multi-chunk log exercising every value type, arrays, nested BinXml (0x21),
 * templateless records and markup tokens. Used as fuzz seeds (the corpus alone lacks some of these).
 */
import type { DataField, RecordSpec } from './index.js';
import { attr, defaultSystem, el, fileTime, templatelessEvent, text, windowsEvent, writeEvtx } from './index.js';

export const EVERY_TYPE: DataField[] = [
  { name: 'String', value: { type: 'string', value: 'C:\\Windows\\System32\\certreq.exe' } },
  { name: 'Ansi', value: { type: 'ansi', value: 'ansi' } },
  { name: 'Int8', value: { type: 'int8', value: -5 } },
  { name: 'UInt8', value: { type: 'uint8', value: 250 } },
  { name: 'Int16', value: { type: 'int16', value: -12345 } },
  { name: 'UInt16', value: { type: 'uint16', value: 65535 } },
  { name: 'Int32', value: { type: 'int32', value: -7 } },
  { name: 'UInt32', value: { type: 'uint32', value: 7 } },
  { name: 'Int64', value: { type: 'int64', value: -7n } },
  { name: 'UInt64', value: { type: 'uint64', value: 7n } },
  { name: 'Real32', value: { type: 'real32', value: 1.5 } },
  { name: 'Real64', value: { type: 'real64', value: 2.5 } },
  { name: 'Bool', value: { type: 'bool', value: 1 } },
  { name: 'Binary', value: { type: 'binary', value: Uint8Array.of(1, 2, 3) } },
  { name: 'Guid', value: { type: 'guid', value: '{00112233-4455-6677-8899-AABBCCDDEEFF}' } },
  { name: 'SizeT', value: { type: 'sizet', value: 0x1234n, width: 8 } },
  { name: 'FileTime', value: { type: 'filetime', value: fileTime('2020-01-02T03:04:05.678Z') } },
  { name: 'SysTime', value: { type: 'systime', value: { year: 2021, month: 1, dayOfWeek: 0, day: 2, hour: 3, minute: 4, second: 5, milliseconds: 6 } } },
  { name: 'Sid', value: { type: 'sid', value: 'S-1-5-21-1-2-3-500' } },
  { name: 'HexInt32', value: { type: 'hexint32', value: 0x1f } },
  { name: 'HexInt64', value: { type: 'hexint64', value: 0x1fn } },
  { name: 'Strings', value: { type: 'stringArray', value: ['a', 'b'] } },
  { name: 'U32s', value: { type: 'uint32Array', value: [1, 2] } },
  { name: 'Sids', value: { type: 'sidArray', value: ['S-1-5-18', 'S-1-5-19'] } },
  { name: 'Null', value: { type: 'null' } },
];

export function everyFeatureRecords(count: number): RecordSpec[] {
  const out: RecordSpec[] = [];
  for (let i = 1; i <= count; i++) {
    const sys = defaultSystem({ recordId: BigInt(i) });
    if (i % 5 === 0) {
      out.push(templatelessEvent(sys, [{ name: 'CommandLine', value: `inline ${i}` }], '2024-03-01T10:20:30.1234567Z'));
    } else if (i % 7 === 0) {
      const root = el('Event', [], [
        el('System', [], [el('EventRecordID', [], [text(String(i))])]),
        el('EventData', [], [
          el('Data', [attr('Name', text('M'))], [{ kind: 'cdata', text: 'c' }, { kind: 'entityRef', name: 'amp' }, { kind: 'charRef', code: 65 }]),
          { kind: 'pi', target: 't', data: 'd' },
        ]),
      ]);
      out.push({ recordId: i, written: sys.timeCreated, body: { element: root } });
    } else {
      out.push(windowsEvent(sys, EVERY_TYPE, { nested: i % 2 === 0 }));
    }
  }
  return out;
}

/** About `count` records over several chunks. */
export function everyFeatureFile(count = 240): Uint8Array {
  return writeEvtx(everyFeatureRecords(count), { maxRecordsPerChunk: 60 }).bytes;
}
