/**
 * Differential test against Debian's libevtx (`evtxexport -f xml`): for EVERY record evtxexport renders from
 * the shared corpus (EVTX corpus + Sigma regression data), our System fields and EventData (name, value)
 * pairs must equal its rendering, after normalising only GUID braces/case, hex padding and sub-microsecond
 * digits (support/compare.ts). evtxexport must be installed (CI installs libevtx-utils); without it the test
 * fails, it does not skip.
 *
 * Set EVTX_FAILURES_OUT=/path to also append every mismatch there as JSON lines (for the failure list).
 */
// @requires corpus evtxexport
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseEvtxFile } from '../../src/evtx/index.js';
import { allCorpusEvtxFiles, CORPUS_ROOT, EVTX_CORPUS, requireCorpus, validationRows } from './support/corpus.js';
import { runEvtxexport } from './support/evtxexport.js';
import { diffEvents, flattenEvent, systemValue, type FieldDiff, type FlatEvent } from './support/compare.js';

requireCorpus();
const files = allCorpusEvtxFiles();
/** evtxexport's record counts as recorded in VALIDATION.tsv, to prove this harness reads all of its output. */
const recordedCounts = new Map(validationRows().map((r) => [join(EVTX_CORPUS, r.file), r.libevtxRecords]));
let comparedRecords = 0;

interface Mismatch {
  file: string;
  recordId: string;
  evtxexportIndex: number;
  diffs: FieldDiff[];
}

async function ourEventsById(file: string): Promise<Map<string, FlatEvent[]>> {
  const byId = new Map<string, FlatEvent[]>();
  for await (const item of parseEvtxFile(file)) {
    if (!('record' in item)) continue;
    const flat = flattenEvent(item.record.root());
    const id = systemValue(flat, 'EventRecordID') ?? String(item.record.recordId);
    const list = byId.get(id);
    if (list) list.push(flat);
    else byId.set(id, [flat]);
  }
  return byId;
}

function describe(m: Mismatch): string {
  const d = m.diffs
    .slice(0, 4)
    .map((x) => `${x.field}: evtxexport=${JSON.stringify(x.expected)} ours=${JSON.stringify(x.got)}`)
    .join('; ');
  return `${m.file} EventRecordID ${m.recordId}: ${d}${m.diffs.length > 4 ? ` (+${m.diffs.length - 4} more)` : ''}`;
}

test('differential corpus is complete (every .evtx of the EVTX corpus and the Sigma regression data)', () => {
  assert.ok(files.length >= 250, `expected the 56 corpus files and ~200 Sigma regression files, found ${files.length}`);
});

for (const file of files) {
  const name = relative(CORPUS_ROOT, file);
  test(`evtxexport agrees with us on every record it renders: ${name}`, async () => {
    const exported = await runEvtxexport(file);
    assert.deepEqual(
      exported.unparsable.map((u) => `record #${u.index}: ${u.error}`),
      [],
      `evtxexport printed XML this harness cannot parse for ${name}`,
    );
    const recorded = recordedCounts.get(file);
    if (recorded !== undefined) {
      assert.equal(exported.records.length, recorded, `evtxexport rendered ${exported.records.length} records, VALIDATION.tsv recorded ${recorded}`);
    }
    comparedRecords += exported.records.length;
    const ours = await ourEventsById(file);
    const mismatches: Mismatch[] = [];
    for (const rec of exported.records) {
      const expected = flattenEvent(rec.root);
      const id = systemValue(expected, 'EventRecordID') ?? `#${rec.index}`;
      const candidates = ours.get(id) ?? [];
      if (candidates.length === 0) {
        mismatches.push({ file: name, recordId: id, evtxexportIndex: rec.index, diffs: [{ field: 'record', expected: 'present', got: 'missing' }] });
        continue;
      }
      // Carved files can hold one EventRecordID twice: take an identical copy if there is one.
      let pick = candidates.findIndex((c) => diffEvents(expected, c).length === 0);
      if (pick < 0) pick = 0;
      const diffs = diffEvents(expected, candidates[pick]!);
      candidates.splice(pick, 1);
      if (diffs.length > 0) mismatches.push({ file: name, recordId: id, evtxexportIndex: rec.index, diffs });
    }
    const out = process.env['EVTX_FAILURES_OUT'];
    if (out && mismatches.length > 0) appendFileSync(out, mismatches.map((m) => JSON.stringify(m)).join('\n') + '\n');
    assert.equal(
      mismatches.length,
      0,
      `${mismatches.length} of ${exported.records.length} records rendered by evtxexport differ from ours:\n` +
        mismatches.slice(0, 10).map(describe).join('\n'),
    );
  });
}

test('the differential compared every record evtxexport renders over the corpus (21k+)', () => {
  assert.ok(comparedRecords >= 21_000, `only ${comparedRecords} records compared`);
});
