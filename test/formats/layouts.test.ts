/**
 * Layouts, detection and bad input: every way a file can hold events, and every way it can be broken.
 * A broken line/document is one DecodeError at its 1-based line; everything before and after is still decoded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { formatDecodeError } from '../../src/model/event.js';
import { decodeDocument, decodeFileBatches, expandInputs } from '../../src/formats/index.js';
import { spawn, spawnSync } from 'node:child_process';
import { decodeBytes, decodePath, repoRoot } from './helpers.js';

/** A compact Winlogbeat-raw Sysmon 1 document. */
function wlb(recordId: number, commandLine = `cmd.exe /c echo ${recordId}`): Record<string, unknown> {
  return {
    '@timestamp': '2024-05-01T10:15:30.123Z',
    winlog: {
      provider_name: 'Microsoft-Windows-Sysmon', event_id: 1, record_id: recordId, channel: 'Microsoft-Windows-Sysmon/Operational', computer_name: 'WS1',
      event_data: { Image: 'C:\\Windows\\System32\\cmd.exe', CommandLine: commandLine, ProcessId: String(1000 + recordId) },
    },
  };
}

function sysmonXml(recordId: number, q = '"'): string {
  return `<Event xmlns=${q}http://schemas.microsoft.com/win/2004/08/events/event${q}><System><Provider Name=${q}Microsoft-Windows-Sysmon${q}/><EventID>1</EventID><TimeCreated SystemTime=${q}2024-05-01T10:15:30.1234567Z${q}/><EventRecordID>${recordId}</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>WS1</Computer></System><EventData><Data Name=${q}Image${q}>C:\\Windows\\System32\\cmd.exe</Data><Data Name=${q}CommandLine${q}>cmd.exe /c echo ${recordId} &amp; exit</Data></EventData></Event>`;
}

const ids = (events: { system: { recordId?: number } }[]) => events.map((e) => e.system.recordId);

test('NDJSON: a malformed line is an error at its line; lines before and after are kept', async () => {
  const text = [JSON.stringify(wlb(1)), '', JSON.stringify(wlb(2)), '{"winlog": {"event_id": 1, broken', JSON.stringify(wlb(3)), 'garbage line', JSON.stringify(wlb(4)), ''].join('\n');
  for (const chunk of [7, 64, 1 << 20]) {
    const { events, errors, items } = await decodeBytes(text, 'in.ndjson', {}, chunk);
    assert.deepEqual(ids(events), [1, 2, 3, 4], `chunk ${chunk}`);
    assert.deepEqual(events.map((e) => e.origin.line), [1, 3, 5, 7]);
    assert.deepEqual(errors.map((e) => e.line), [4, 6]);
    assert.match(formatDecodeError(errors[0]!), /^in\.ndjson:4: incomplete JSON document/);
    assert.match(formatDecodeError(errors[1]!), /^in\.ndjson:6: not JSON: unexpected 'garbage line'/);
    // Items come in file order.
    assert.deepEqual(items.map((i) => ('event' in i ? i.event.origin.line : i.error.line)), [1, 3, 4, 5, 6, 7]);
  }
});

test('NDJSON: CRLF line ends, a BOM, and a truncated last line', async () => {
  const text = `\ufeff${JSON.stringify(wlb(1))}\r\n${JSON.stringify(wlb(2))}\r\n{"winlog":`;
  const { events, errors } = await decodeBytes(text, 'x', {}, 5);
  assert.deepEqual(ids(events), [1, 2]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.line, 3);
  assert.match(errors[0]!.reason, /incomplete JSON document at end of input/);
});

test('Elasticsearch _bulk bodies: action lines are skipped silently, documents decoded', async () => {
  const text = [{ index: { _index: 'winlogbeat-8' } }, wlb(1), { create: {} }, wlb(2)].map((d) => JSON.stringify(d)).join('\n');
  const { events, errors } = await decodeBytes(text, 'bulk');
  assert.deepEqual(errors, []);
  assert.deepEqual(ids(events), [1, 2]);
});

test('a line that is valid JSON but not an event names the reason', async () => {
  const text = `${JSON.stringify(wlb(1))}\n{"hello": "world"}\n[1, 2]\n${JSON.stringify(wlb(2))}\n`;
  const { events, errors } = await decodeBytes(text, 'x');
  assert.deepEqual(ids(events), [1, 2]);
  assert.deepEqual(errors.map((e) => [e.line, e.reason]), [
    [2, 'not a Windows event (no Event.System, winlog, EventID or HEC event)'],
    [3, 'expected a JSON object, got number'],
    [3, 'expected a JSON object, got number'],
  ]);
});

test('JSON array on one line and pretty-printed: every element, with its line', async () => {
  const one = JSON.stringify([wlb(1), wlb(2)]);
  assert.deepEqual(ids((await decodeBytes(one, 'x')).events), [1, 2]);
  const pretty = JSON.stringify([wlb(1), wlb(2), wlb(3)], null, 2);
  const { events, errors } = await decodeBytes(pretty, 'x', {}, 33);
  assert.deepEqual(errors, []);
  assert.deepEqual(ids(events), [1, 2, 3]);
  assert.equal(events[0]!.origin.line, 2);
  assert.ok(events[1]!.origin.line! > events[0]!.origin.line!);
});

test('pretty-printed array with a broken element keeps the others', async () => {
  const text = ['[', JSON.stringify(wlb(1)) + ',', '  {"winlog": {"event_id": tru}},', JSON.stringify(wlb(2)), ']'].join('\n');
  const { events, errors } = await decodeBytes(text, 'x');
  assert.deepEqual(ids(events), [1, 2]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.line, 3);
  assert.match(errors[0]!.reason, /^invalid JSON/);
});

test('concatenated pretty-printed objects (SigmaHQ regression .json), evtx_dump "Record N" headers, HEC batches', async () => {
  const pretty = [wlb(1), wlb(2), wlb(3)].map((d) => JSON.stringify(d, null, 2)).join('\n');
  assert.deepEqual(ids((await decodeBytes(pretty, 'x', {}, 50)).events), [1, 2, 3]);
  const records = [wlb(1), wlb(2)].map((d, i) => `Record ${i + 1}\n${JSON.stringify(d, null, 2)}`).join('\n');
  assert.deepEqual(ids((await decodeBytes(records, 'x')).events), [1, 2]);
  const hec = [1, 2, 3].map((n) => JSON.stringify({ time: 1714558530.123, host: 'WS1', event: sysmonXml(n, "'") })).join('');
  const decoded = await decodeBytes(hec, 'x');
  assert.deepEqual(decoded.errors, []);
  assert.deepEqual(ids(decoded.events), [1, 2, 3]);
});

test('concatenated objects: an unterminated one is reported and the next still decodes', async () => {
  const text = `{\n  "winlog": {\n    "event_id": 1,\n${JSON.stringify(wlb(2), null, 2)}\n`;
  const { events, errors } = await decodeBytes(text, 'x');
  assert.deepEqual(ids(events), [2]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.line, 1);
  assert.match(errors[0]!.reason, /incomplete JSON document \(a new one starts at line 4\)/);
});

test('XML: <Events> root with prolog, events back to back on one line, namespace prefixes, and per-line Splunk events', async () => {
  const wrapped = `<?xml version="1.0" encoding="UTF-8"?>\n<!-- exported -->\n<Events>\n${sysmonXml(1)}\n${sysmonXml(2)}\n</Events>\n`;
  let r = await decodeBytes(wrapped, 'x', {}, 13);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(ids(r.events), [1, 2]);
  assert.deepEqual(r.events.map((e) => e.origin.line), [4, 5]);
  assert.equal(r.events[0]!.data['CommandLine'], 'cmd.exe /c echo 1 & exit');
  r = await decodeBytes(sysmonXml(1) + sysmonXml(2) + sysmonXml(3), 'x', {}, 100);
  assert.deepEqual(ids(r.events), [1, 2, 3]);
  const prefixed = sysmonXml(7).replace(/<(\/?)(\w+)/g, '<$1e:$2').replace('xmlns=', 'xmlns:e=');
  r = await decodeBytes(prefixed, 'x');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(ids(r.events), [7]);
  r = await decodeBytes([sysmonXml(1, "'"), sysmonXml(2, "'")].join('\n'), 'x');
  assert.deepEqual(r.events.map((e) => e.origin.line), [1, 2]);
});

test('XML: a truncated event and a malformed event are errors at their lines; neighbours are kept', async () => {
  const lines = [sysmonXml(1), sysmonXml(2).slice(0, 150), sysmonXml(3), sysmonXml(4).replace('</EventID>', '</EventId>'), sysmonXml(5), '<Event><System><EventID>x</EventID></System></Event>'];
  const { events, errors } = await decodeBytes(lines.join('\n'), 'sec.xml', {}, 64);
  assert.deepEqual(ids(events), [1, 3, 5]);
  assert.deepEqual(errors.map((e) => e.line), [2, 4, 6]);
  assert.match(errors[0]!.reason, /unterminated <Event>/);
  assert.match(errors[1]!.reason, /^malformed XML/);
  assert.match(errors[2]!.reason, /no numeric <EventID>/);
});

test('XML: an event cut off at end of input, and text outside events, are reported', async () => {
  const { events, errors } = await decodeBytes(`${sysmonXml(1)}\nstray text\n${sysmonXml(2).slice(0, 100)}`, 'x');
  assert.deepEqual(ids(events), [1]);
  assert.deepEqual(errors.map((e) => [e.line, e.reason.slice(0, 30)]), [
    [2, 'text outside <Event>: "stray t'],
    [3, 'unexpected end of input inside'],
  ]);
});

test('XML: control characters in data (an ESC in a command line), escaped or raw, are kept as data', async () => {
  const escaped = sysmonXml(1).replace('cmd.exe /c echo 1', 'evil &#x1b;[31mRED&#x1b;[0m &#x85;x');
  const raw = sysmonXml(2).replace('cmd.exe /c echo 2', 'raw \u001b[2J \u0007bell');
  const { events, errors } = await decodeBytes(`${escaped}\n${raw}\n${sysmonXml(3).replace('</EventID>', '</Oops>')}`, 'x');
  assert.deepEqual(ids(events), [1, 2]);
  assert.equal(events[0]!.data['CommandLine'], 'evil \u001b[31mRED\u001b[0m \u0085x & exit');
  assert.equal(events[1]!.data['CommandLine'], 'raw \u001b[2J \u0007bell & exit');
  assert.deepEqual(errors.map((e) => e.line), [3]);
});

test('XML: Data without names, UserData leaves, RenderingInfo ignored, repeated names kept as a list', async () => {
  const xml = `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Service Control Manager"/><EventID Qualifiers="16384">7036</EventID><TimeCreated SystemTime="2024-01-01T00:00:00.000Z"/><Channel>System</Channel><Computer>S</Computer></System><EventData><Data>Windows Update</Data><Data>running</Data><Binary>7700</Binary></EventData><RenderingInfo Culture="en-US"><Message>m</Message></RenderingInfo></Event>
<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Eventlog"/><EventID>1102</EventID><TimeCreated SystemTime="2024-01-01T00:00:00Z"/><Channel>Security</Channel><Computer>S</Computer></System><UserData><LogFileCleared xmlns="http://manifests.microsoft.com/win/2004/08/windows/eventlog"><SubjectUserName>bob</SubjectUserName><SubjectDomainName>CORP</SubjectDomainName></LogFileCleared></UserData></Event>`;
  const { events, errors } = await decodeBytes(xml, 'x');
  assert.deepEqual(errors, []);
  assert.deepEqual(events[0]!.data, { Data: ['Windows Update', 'running'], Binary: '7700' });
  assert.equal(events[0]!.system.eventId, 7036);
  assert.deepEqual(events[1]!.data, { SubjectUserName: 'bob', SubjectDomainName: 'CORP' });
});

test('gzip is read transparently (JSON and XML inside), a corrupt gzip is one error after the good part', async () => {
  const json = gzipSync(`${JSON.stringify(wlb(1))}\n${JSON.stringify(wlb(2))}\n`);
  assert.deepEqual(ids((await decodeBytes(json, 'x.gz', {}, 10)).events), [1, 2]);
  assert.deepEqual(ids((await decodeBytes(gzipSync(gzipSync(sysmonXml(5))), 'x.gz')).events), [5]);
  const big = gzipSync(Array.from({ length: 2000 }, (_, i) => JSON.stringify(wlb(i))).join('\n'));
  const cut = await decodeBytes(big.subarray(0, Math.floor(big.length / 2)), 'cut.gz');
  assert.ok(cut.events.length > 100, 'events before the damage are kept');
  assert.equal(cut.errors.length, 1);
  assert.match(cut.errors[0]!.reason, /^gzip: /);
});

test('binary and unknown inputs: a single error naming the file and why; empty input: nothing', async () => {
  let r = await decodeBytes(Buffer.from([0x00, 0x01, 0x02, 0xff, 0x10, 0x00, 0x41]), 'blob.bin');
  assert.deepEqual(r.events, []);
  assert.deepEqual(r.errors.map(formatDecodeError), ['blob.bin: binary file: not EVTX, gzip, Windows event XML or JSON']);
  r = await decodeBytes('Date,Host,Message\n2024-01-01,a,b\n', 'log.csv');
  assert.equal(r.errors.length, 1);
  assert.match(formatDecodeError(r.errors[0]!), /^log\.csv: unknown text format: starts with "Date,Host/);
  r = await decodeBytes(Buffer.from('PK\u0003\u0004rest', 'latin1'), 'a.zip');
  assert.match(r.errors[0]!.reason, /zip archive/);
  r = await decodeBytes('', 'empty');
  assert.deepEqual(r.items, []);
  r = await decodeBytes('\n\n  \n', 'blank');
  assert.deepEqual(r.items, []);
});

test('huge fields: a 100k-character command line in every layout, a 5 MB line', async () => {
  const long = `certreq -Post -config https://a.example/ ${'A'.repeat(100_000)} c:\\windows\\win.ini`;
  let r = await decodeBytes(JSON.stringify(wlb(1, long)), 'x', {}, 4096);
  assert.equal(r.events[0]!.data['CommandLine'], long);
  r = await decodeBytes(sysmonXml(1).replace('cmd.exe /c echo 1 &amp; exit', long), 'x', {}, 4096);
  assert.equal(r.events[0]!.data['CommandLine'], long);
  const fiveMb = `x${'B'.repeat(5 * 1024 * 1024)}`;
  r = await decodeBytes(`${JSON.stringify(wlb(1, fiveMb))}\n${JSON.stringify(wlb(2))}`, 'x');
  assert.deepEqual(ids(r.events), [1, 2]);
  assert.equal((r.events[0]!.data['CommandLine'] as string).length, fiveMb.length);
});

test('documents over the size cap are skipped with an error; decoding goes on', async () => {
  const options = { maxDocumentBytes: 4096 };
  const text = `${JSON.stringify(wlb(1))}\n${JSON.stringify(wlb(2, 'Z'.repeat(10_000)))}\n${JSON.stringify(wlb(3))}\n`;
  let r = await decodeBytes(text, 'x', options, 1000);
  assert.deepEqual(ids(r.events), [1, 3]);
  assert.deepEqual(r.errors.map(formatDecodeError), ['x:2: JSON document larger than 4096 bytes; skipped']);
  r = await decodeBytes(`${JSON.stringify(wlb(1))}\n${'#'.repeat(10_000)}\n${JSON.stringify(wlb(3))}\n`, 'x', options, 1000);
  assert.deepEqual(ids(r.events), [1, 3]);
  assert.deepEqual(r.errors.map(formatDecodeError), ["x:2: not JSON: unexpected '####################…'"]);
  const pretty = [wlb(1), wlb(2, 'Z'.repeat(10_000)), wlb(3)].map((d) => JSON.stringify(d, null, 1).replace(/"Z+"/, (m) => m.replace(/Z{100}/g, 'Z'.repeat(100) + '",\n"k": "'))).join('\n');
  r = await decodeBytes(pretty, 'x', options, 1000);
  assert.deepEqual(ids(r.events), [1, 3]);
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!.reason, /JSON document larger than 4096 bytes/);
  const xml = [sysmonXml(1), sysmonXml(2).replace('cmd.exe /c echo 2', 'Q'.repeat(10_000)), sysmonXml(3)].join('\n');
  r = await decodeBytes(xml, 'x', options, 1000);
  assert.deepEqual(ids(r.events), [1, 3]);
  assert.deepEqual(r.errors.map(formatDecodeError), ['x:2: event larger than 4096 bytes; skipped']);
  assert.deepEqual(r.events.map((e) => e.origin.line), [1, 3]);
});

test('NDJSON prefilter: lines with none of the literals are skipped unparsed; unsafe literals disable it', async () => {
  const text = [wlb(1, 'certreq -Post x'), wlb(2, 'notepad'), wlb(3, 'CERTREQ.EXE')].map((d) => JSON.stringify(d)).join('\n');
  assert.deepEqual(ids((await decodeBytes(text, 'x', { prefilterLiterals: ['certreq'] })).events), [1, 3]);
  assert.deepEqual(ids((await decodeBytes(text, 'x', { prefilterLiterals: ['c:\\windows'] })).events), [1, 2, 3]);
  assert.deepEqual(ids((await decodeBytes(text, 'x', { prefilterLiterals: null })).events), [1, 2, 3]);
  // Pretty-printed and concatenated documents are never prefiltered line by line.
  const pretty = [wlb(1, 'notepad'), wlb(2, 'certreq -Post')].map((d) => JSON.stringify(d, null, 2)).join('\n');
  assert.deepEqual(ids((await decodeBytes(pretty, 'x', { prefilterLiterals: ['certreq'] })).events), [1, 2]);
  const records = [wlb(1, 'notepad'), wlb(2, 'certreq')].map((d, i) => `Record ${i + 1}\n${JSON.stringify(d, null, 2)}`).join('\n');
  assert.deepEqual((await decodeBytes(records, 'x', { prefilterLiterals: ['certreq'] })).errors, []);
  const mixed = `${JSON.stringify(wlb(1, 'certreq'))}\n${JSON.stringify(wlb(2, 'notepad'), null, 2)}\n${JSON.stringify(wlb(3, 'notepad'))}\n`;
  const m = await decodeBytes(mixed, 'x', { prefilterLiterals: ['certreq'] });
  assert.deepEqual(m.errors, []);
  // After a pretty-printed document the next line is parsed (the prefilter resumes once lines are documents again).
  assert.deepEqual(ids(m.events), [1, 2, 3]);
});

test('decodeDocument: one parsed document, any dialect; errors say why', () => {
  const ev = decodeDocument(wlb(9), { file: 'http:/ingest', index: 0 });
  assert.ok('system' in ev);
  assert.equal(ev.system.recordId, 9);
  assert.equal(ev.origin.dialect, 'winlogbeat');
  const bad = decodeDocument({ winlog: { event_id: 'one' } }, { file: 'http:/ingest', index: 3 });
  assert.ok(!('system' in bad));
  assert.equal(formatDecodeError(bad), 'http:/ingest: document 4: no numeric winlog.event_id or event.code');
  const elastic = decodeDocument({ _index: 'winlogbeat-1', _source: wlb(5) }, { file: 'x' });
  assert.ok('system' in elastic && elastic.system.recordId === 5);
});

test('expandInputs: files as given, directories walked recursively in sorted order, unreadable paths reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-walk-'));
  try {
    mkdirSync(join(dir, 'b', 'deep'), { recursive: true });
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'z.json'), '{}');
    writeFileSync(join(dir, 'a', '2.xml'), '<Event/>');
    writeFileSync(join(dir, 'a', '10.xml'), '<Event/>');
    writeFileSync(join(dir, 'b', 'deep', 'x.ndjson'), '');
    symlinkSync(dir, join(dir, 'b', 'loop'));
    const seen: string[] = [];
    const errors: string[] = [];
    for await (const item of expandInputs([dir, '-', join(dir, 'missing.json')])) {
      if ('error' in item) errors.push(formatDecodeError(item.error));
      else seen.push(item.path === '-' ? '-' : item.path.slice(dir.length + 1));
    }
    assert.deepEqual(seen, ['a/10.xml', 'a/2.xml', 'b/deep/x.ndjson', 'z.json', '-']);
    assert.deepEqual(errors, [`${join(dir, 'missing.json')}: cannot read: no such file or directory`]);
    const missing = await decodePath(join(dir, 'nope'));
    assert.deepEqual(missing.errors.map((e) => e.reason), ['cannot read: no such file or directory']);
    if (process.getuid?.() !== 0) {
      chmodSync(join(dir, 'z.json'), 0o000);
      const denied = await decodePath(join(dir, 'z.json'));
      assert.deepEqual(denied.errors.map((e) => e.reason), ['cannot read: permission denied']);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("'-' reads stdin (sniffed like any file)", () => {
  const script = `
    import { decodeFile } from ${JSON.stringify(join(repoRoot, 'src/formats/index.ts'))};
    const out = [];
    for await (const item of decodeFile({ path: '-' })) out.push('event' in item ? item.event.origin.file + ':' + item.event.system.recordId : 'error ' + item.error.reason);
    console.log(out.join(','));`;
  const input = gzipSync(`${JSON.stringify(wlb(1))}\n${JSON.stringify(wlb(2))}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { input, cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '-:1,-:2');
});

test('decodeFileBatches yields the same items in the same order as decodeFile', async () => {
  const path = join(repoRoot, 'samples', 'winlogbeat-ws02.ndjson');
  const flat = (await decodePath(path)).items;
  const batched = [];
  for await (const batch of decodeFileBatches({ path })) batched.push(...batch);
  assert.deepEqual(batched, flat);
  assert.equal(flat.length, 5);
});

test('a named pipe (scan <(zcat log.gz)) is streamed, not read at an offset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-fifo-'));
  try {
    const fifo = join(dir, 'pipe');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const source = join(dir, 'src.ndjson');
    writeFileSync(source, `${JSON.stringify(wlb(1))}\n${JSON.stringify(wlb(2))}\n`);
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', source, fifo], { stdio: 'ignore' });
    const written = new Promise((resolve) => writer.on('close', resolve));
    const { events, errors } = await decodePath(fifo);
    assert.equal(await written, 0);
    assert.deepEqual(errors, []);
    assert.deepEqual(ids(events), [1, 2]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Winlogbeat 6.x (pre-ECS) documents, as in older OTRF/HELK exports', async () => {
  const doc = {
    '@timestamp': '2019-05-18T23:40:44.537Z', beat: { hostname: 'WECServer' }, computer_name: 'IT001.shire.com', event_id: 4688, level: 'Information',
    log_name: 'Security', source_name: 'Microsoft-Windows-Security-Auditing', record_number: '5104311', process_id: 4, thread_id: 5460, type: 'wineventlog',
    provider_guid: '{54849625-5478-4994-a5ba-3e3b0328c30d}', version: 2,
    event_data: { NewProcessId: '0x1bd8', NewProcessName: 'C:\\Windows\\System32\\certreq.exe', ProcessId: '0x1e0c', CommandLine: 'certreq -Post', SubjectUserName: 'pgustavo', SubjectDomainName: 'SHIRE', TargetUserName: '-' },
  };
  const { events, errors } = await decodeBytes(JSON.stringify(doc), 'mordor.json');
  assert.deepEqual(errors, []);
  const ev = events[0]!;
  assert.equal(ev.origin.dialect, 'winlogbeat6');
  assert.deepEqual([ev.system.provider, ev.system.eventId, ev.system.channel, ev.system.computer, ev.system.recordId, ev.system.timeCreated], [
    'Microsoft-Windows-Security-Auditing', 4688, 'Security', 'IT001.shire.com', 5104311, '2019-05-18T23:40:44.537Z',
  ]);
  assert.equal(ev.data['NewProcessName'], 'C:\\Windows\\System32\\certreq.exe');
  assert.equal(ev.data['CommandLine'], 'certreq -Post');
});

test('one-line arrays and HEC batches longer than any single document stream element by element', async () => {
  // Strings full of escapes, cut at every possible place by 7-byte chunks once the line is scanned piecewise.
  const tricky = (n: number) => wlb(n, `a\\"b\\\\" \\\\\\"q" \\u00e9 ${'\\'.repeat(n % 5)}"end`);
  const docs = Array.from({ length: 60 }, (_, i) => tricky(i));
  const options = { maxDocumentBytes: 4096 };
  const array = JSON.stringify(docs);
  assert.ok(array.length > 4 * 4096);
  let r = await decodeBytes(`${array}\n${JSON.stringify(wlb(99))}\n`, 'a.json', options, 7);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(ids(r.events), [...docs.map((_, i) => i), 99]);
  assert.deepEqual(r.events.slice(0, 60).map((e) => e.data['CommandLine']), docs.map((d) => (d['winlog'] as { event_data: { CommandLine: string } }).event_data.CommandLine));
  assert.deepEqual(r.events.map((e) => e.origin.line), [...docs.map(() => 1), 2]);
  const hec = docs.map((d) => JSON.stringify({ time: 1714558530, host: 'h', event: d })).join('');
  r = await decodeBytes(hec, 'hec', options, 7);
  assert.deepEqual(r.errors, []);
  assert.equal(r.events.length, 60);
});

test('Splunk search results exported as JSON ({"result": {"_raw": "<Event…>"}}) decode the XML inside', async () => {
  const rows = [1, 2].map((n) => JSON.stringify({ preview: false, result: { _raw: sysmonXml(n, "'"), _time: '2024-05-01 10:15:30.123 UTC', host: 'WS1', source: 'XmlWinEventLog:Microsoft-Windows-Sysmon/Operational' } }));
  const { events, errors } = await decodeBytes(rows.join('\n'), 'splunk.json');
  assert.deepEqual(errors, []);
  assert.deepEqual(ids(events), [1, 2]);
  assert.equal(events[0]!.origin.dialect, 'splunk-export');
  assert.equal(events[0]!.data['CommandLine'], 'cmd.exe /c echo 1 & exit');
});
