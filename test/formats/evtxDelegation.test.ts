/**
 * EVTX inputs are recognised by their magic and handed to the EVTX parser: by path for files, through a temporary
 * spool for streams and .gz. The EVTX reading and the python-evtx JSON export of the same records give the same
 * process view (an end-to-end check across two decoders).
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { toProcessEvent } from '../../src/model/toProcess.js';
import { corpus, decodeBytes, decodePath } from './helpers.js';

const evtx = join(corpus, 'evtx/synthetic/certreq_sysmon_eid1_synthetic.evtx');

test('EVTX by content (whatever the name), from a stream, and inside gzip: same events, named after the input', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-evtx-'));
  try {
    const misnamed = join(dir, 'events.json');
    writeFileSync(misnamed, readFileSync(evtx));
    const plain = await decodePath(evtx);
    assert.deepEqual(plain.errors, []);
    assert.equal(plain.events.length, 11);
    const renamed = await decodePath(misnamed);
    const streamed = await decodeBytes(readFileSync(evtx), 'stdin-evtx');
    const gz = join(dir, 'sysmon.evtx.gz');
    writeFileSync(gz, gzipSync(readFileSync(evtx)));
    const gunzipped = await decodePath(gz);
    for (const [label, r, name] of [['misnamed', renamed, misnamed], ['stream', streamed, 'stdin-evtx'], ['gzip', gunzipped, gz]] as const) {
      assert.deepEqual(r.errors, [], label);
      assert.deepEqual(r.events.map((e) => e.system), plain.events.map((e) => e.system), label);
      assert.deepEqual(r.events.map((e) => e.data), plain.events.map((e) => e.data), label);
      assert.ok(r.events.every((e) => e.origin.file === name), `${label}: origin names the input`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('EVTX and its python-evtx NDJSON twin give the same process events', async () => {
  const fromEvtx = await decodePath(evtx);
  const fromJson = await decodePath(join(corpus, 'evtx/synthetic/certreq_process_creation_synthetic.ndjson'));
  const twins = new Map(fromJson.events.map((e) => [e.system.recordId, e]));
  for (const ev of fromEvtx.events) {
    const twin = twins.get(ev.system.recordId);
    assert.ok(twin, `record ${ev.system.recordId}`);
    const { event: _a, timestamp: t1, ...a } = toProcessEvent(ev)!;
    const { event: _b, timestamp: t2, ...b } = toProcessEvent(twin)!;
    assert.deepEqual(a, b, `record ${ev.system.recordId}`);
    assert.equal(Math.abs(Date.parse(t1) - Date.parse(t2)) <= 1, true);
  }
});
