/**
 * The synthetic certreq files (real records + appended certreq process-creation records reusing the original
 * template definitions by offset): the parser yields every record EXPECTED.json lists, with the labelled
 * image, OriginalFileName and command line — both as parsed XML and through the WinEvent decoder that
 * `scan` uses.
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEvtxFile } from '../../src/evtx/index.js';
import { decodeEvtxFile } from '../../src/formats/evtxFile.js';
import type { WinEvent } from '../../src/model/event.js';
import { EVTX_CORPUS, requireCorpus } from './support/corpus.js';
import { flattenEvent, systemValue, type FlatEvent } from './support/compare.js';

requireCorpus();

interface Expected {
  record_header_id: number;
  EventRecordID: number;
  label: string;
  image: string;
  ofn?: string;
  cmd: string;
}

const expectedByFile = JSON.parse(readFileSync(join(EVTX_CORPUS, 'synthetic', 'EXPECTED.json'), 'utf8')) as Record<string, Expected[] | string>;
const cases = Object.entries(expectedByFile).filter((e): e is [string, Expected[]] => Array.isArray(e[1]));

function data(flat: FlatEvent, name: string): string | undefined {
  return flat.eventData.find(([k]) => k === name)?.[1];
}

test('EXPECTED.json describes both synthetic files', () => {
  assert.deepEqual(cases.map(([f]) => f).sort(), ['certreq_security_4688_synthetic.evtx', 'certreq_sysmon_eid1_synthetic.evtx']);
});

for (const [fileName, expected] of cases) {
  const file = join(EVTX_CORPUS, 'synthetic', fileName);
  const isSysmon = fileName.includes('sysmon');

  test(`parser yields every labelled record of ${fileName} with its image, OriginalFileName and command line`, async () => {
    const byRecordId = new Map<string, { headerId: number; flat: FlatEvent }>();
    const errors: string[] = [];
    let total = 0;
    for await (const item of parseEvtxFile(file)) {
      if ('error' in item) {
        errors.push(item.error.reason);
        continue;
      }
      total++;
      const flat = flattenEvent(item.record.root());
      byRecordId.set(systemValue(flat, 'EventRecordID') ?? '', { headerId: item.record.recordId, flat });
    }
    assert.deepEqual(errors, [], 'the synthetic files are undamaged');
    assert.equal(total, 11, 'both synthetic files hold 11 records (libevtx and python-evtx agree)');
    for (const exp of expected) {
      const got = byRecordId.get(String(exp.EventRecordID));
      assert.ok(got, `EventRecordID ${exp.EventRecordID} (${exp.label}) not yielded`);
      assert.equal(got.headerId, exp.record_header_id, `record header id of EventRecordID ${exp.EventRecordID}`);
      assert.equal(data(got.flat, 'CommandLine'), exp.cmd, `CommandLine of ${exp.label}`);
      if (isSysmon) {
        assert.equal(systemValue(got.flat, 'EventID'), '1');
        assert.equal(data(got.flat, 'Image'), exp.image, `Image of ${exp.label}`);
        assert.equal(data(got.flat, 'OriginalFileName'), exp.ofn, `OriginalFileName of ${exp.label}`);
      } else {
        assert.equal(systemValue(got.flat, 'EventID'), '4688');
        assert.equal(data(got.flat, 'NewProcessName'), exp.image, `NewProcessName of ${exp.label}`);
      }
    }
  });

  test(`decodeEvtxFile gives scan the same WinEvents for ${fileName}`, async () => {
    const events = new Map<number, WinEvent>();
    const errors: string[] = [];
    for await (const item of decodeEvtxFile(file, {})) {
      if ('error' in item) errors.push(item.error.reason);
      else if (item.event.system.recordId !== undefined) events.set(item.event.system.recordId, item.event);
    }
    assert.deepEqual(errors, []);
    assert.equal(events.size, 11);
    for (const exp of expected) {
      const ev = events.get(exp.EventRecordID);
      assert.ok(ev, `EventRecordID ${exp.EventRecordID} (${exp.label}) not decoded`);
      assert.equal(ev.origin.file, file);
      assert.equal(ev.data['CommandLine'], exp.cmd);
      if (isSysmon) {
        assert.equal(ev.system.eventId, 1);
        assert.equal(ev.system.provider, 'Microsoft-Windows-Sysmon');
        assert.equal(ev.data['Image'], exp.image);
        assert.equal(ev.data['OriginalFileName'], exp.ofn);
      } else {
        assert.equal(ev.system.eventId, 4688);
        assert.equal(ev.system.channel, 'Security');
        assert.equal(ev.data['NewProcessName'], exp.image);
      }
      assert.match(ev.system.timeCreated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$/);
    }
  });
}
