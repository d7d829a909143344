/**
 * Whole logs from the shared corpus: an OTRF dataset, a python-evtx flattened export, and the SigmaHQ regression
 * `.json` twins (concatenated pretty-printed evtx_dump objects), which must hold as many events as the `.evtx`
 * they were dumped from has records (read here from the EVTX chunk headers, independently of any EVTX parser;
 * exported EVTX files renumber the record headers, so ids are not compared).
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, readSync, closeSync, fstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { toProcessEvent } from '../../src/model/toProcess.js';
import { corpus, decodePath } from './helpers.js';

test('OTRF bitsadmin dataset decodes fully: every line an event, process events only for Sysmon 1/5 and 4688/4689', async () => {
  const file = join(corpus, 'evtx/json/otrf_cmd_bitsadmin_download_psh_script.ndjson');
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').length;
  const { events, errors } = await decodePath(file);
  assert.deepEqual(errors, []);
  assert.equal(events.length, lines);
  assert.ok(events.every((e) => e.origin.dialect === 'otrf' && e.system.computer === 'WORKSTATION5' && e.system.timeCreated.endsWith('Z')));
  const kinds = new Map<string, number>();
  for (const e of events) {
    const pe = toProcessEvent(e);
    if (pe) kinds.set(`${e.system.eventId}:${pe.kind}`, (kinds.get(`${e.system.eventId}:${pe.kind}`) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries([...kinds].sort()), { '1:start': 2, '4688:start': 2, '4689:end': 2, '5:end': 2 });
  const imageLoads = events.filter((e) => e.system.eventId === 7);
  assert.equal(imageLoads.length, 141);
  assert.ok(imageLoads.some((e) => typeof e.data['OriginalFileName'] === 'string'));
  const bits = events.find((e) => e.system.eventId === 4688 && String(e.data['NewProcessName']).endsWith('bitsadmin.exe'))!;
  const pe = toProcessEvent(bits)!;
  assert.equal(pe.timestamp, '2020-10-23T02:36:43.542Z');
  assert.equal(pe.host.name, 'WORKSTATION5');
  assert.equal(pe.process.pid, 0x242c);
  assert.equal(pe.process.parent?.pid, 0x273c);
  assert.equal(pe.process.parent?.executable, 'C:\\Windows\\System32\\cmd.exe');
  assert.equal(pe.process.integrity, 'High');
  assert.equal(pe.process.elevation, 'default');
  assert.deepEqual(pe.user, { name: 'wardog', domain: 'WORKSTATION5', id: 'S-1-5-21-3940915590-64593676-1414006259-500' });
  assert.match(pe.process.command_line ?? '', /^bitsadmin\.exe {2}\/transfer \/Download/);
  // 5156 carries the application's ProcessID as EventData (no NXLog collision in this shape).
  const wfp = events.find((e) => e.system.eventId === 5156)!;
  assert.equal(typeof wfp.data['ProcessID'], 'string');
  assert.equal(wfp.system.processId, undefined);
});

test('python-evtx flattened certreq export matches the expectations shipped with it', async () => {
  const dir = join(corpus, 'evtx/synthetic');
  const { events, errors } = await decodePath(join(dir, 'certreq_process_creation_synthetic.ndjson'));
  assert.deepEqual(errors, []);
  assert.equal(events.length, 21);
  const byRecord = new Map(events.map((e) => [e.system.recordId, e]));
  const expected = JSON.parse(readFileSync(join(dir, 'EXPECTED.json'), 'utf8')) as Record<string, unknown>;
  let checked = 0;
  for (const rows of Object.values(expected)) {
    if (!Array.isArray(rows)) continue;
    for (const row of rows as Array<{ EventRecordID: number; image: string; cmd: string; ofn?: string }>) {
      const ev = byRecord.get(row.EventRecordID);
      assert.ok(ev, `record ${row.EventRecordID}`);
      const pe = toProcessEvent(ev)!;
      assert.equal(pe.kind, 'start');
      assert.equal(pe.process.executable, row.image);
      assert.equal(pe.process.command_line, row.cmd);
      assert.equal(pe.process.pe?.original_file_name, row.ofn);
      assert.match(pe.timestamp, /^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      checked++;
    }
  }
  assert.equal(checked, 19);
  const sec = events.find((e) => e.system.eventId === 4688 && e.system.recordId === 706651)!;
  assert.equal(sec.system.timeCreated, '2021-11-02T14:15:25.567327Z');
  assert.equal(sec.system.computer.length > 0, true);
});

/** Number of records in an EVTX file, from its chunk headers (first/last record id per chunk). */
function evtxRecordCount(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    let count = 0;
    const header = Buffer.alloc(48);
    for (let offset = 4096; offset + 65536 <= size; offset += 65536) {
      readSync(fd, header, 0, header.length, offset);
      if (header.toString('latin1', 0, 8) !== 'ElfChnk\0') continue;
      const first = Number(header.readBigUInt64LE(24));
      const last = Number(header.readBigUInt64LE(32));
      if (first > 0 && last >= first) count += last - first + 1;
    }
    return count;
  } finally {
    closeSync(fd);
  }
}

function findJsonTwins(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...findJsonTwins(full));
    else if (name.endsWith('.json')) out.push(full);
  }
  return out;
}

test('SigmaHQ regression .json files decode to as many events as their .evtx twins have records', async () => {
  const twins = [...findJsonTwins(join(corpus, 'sigma/regression_data')), ...findJsonTwins(join(corpus, 'evtx/sigma-regression'))];
  assert.ok(twins.length >= 200, `found ${twins.length}`);
  let total = 0;
  for (const json of twins) {
    const { events, errors } = await decodePath(json);
    assert.deepEqual(errors, [], json);
    const evtx = json.replace(/\.json$/, '.evtx');
    const expected = evtxRecordCount(evtx);
    assert.ok(expected > 0, `${evtx} has records`);
    assert.equal(events.length, expected, json);
    assert.equal(new Set(events.map((e) => e.system.recordId)).size, expected, `${json}: distinct record ids`);
    assert.ok(events.every((e) => e.origin.dialect === 'evtx_dump' && e.system.provider !== '' && e.system.channel !== ''), json);
    total += events.length;
  }
  assert.ok(total >= twins.length);
});
