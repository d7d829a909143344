/**
 * Record counts on the shared corpus. Per file in VALIDATION.tsv: we recover at least as many records as the
 * better of Debian's two parsers (libevtx, python-evtx) and at least as many as evtxinfo counts as allocated,
 * exactly as many as the Rust evtx crate's tests expect where one is given ("N ok/M err") from an intact walk of
 * the chunks, and damage the crate reports as errors is reported by us too (never silently dropped).
 * The crate stops a chunk at the first damaged record; we go on at the next record signature (as the issue asks
 * and as libevtx's recovery mode does), so records found that way are marked `recovered` and counted apart.
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { parseEvtxFile, type EvtxError } from '../../src/evtx/index.js';
import { EVTX_CORPUS, listEvtxFiles, manifestExpectation, manifestRows, requireCorpus, validationRows } from './support/corpus.js';

requireCorpus();
const rows = validationRows();
const manifest = new Map(manifestRows().map((m) => [m.file, m]));

async function count(file: string): Promise<{ ok: number; recovered: number; errors: EvtxError[] }> {
  let ok = 0;
  let recovered = 0;
  const errors: EvtxError[] = [];
  for await (const item of parseEvtxFile(file)) {
    if ('record' in item) {
      ok++;
      if (item.record.recovered) recovered++;
    } else errors.push(item.error);
  }
  return { ok, recovered, errors };
}

test('VALIDATION.tsv lists every .evtx file of the EVTX corpus', () => {
  const listed = new Set(rows.map((r) => r.file));
  const onDisk = listEvtxFiles(EVTX_CORPUS).map((f) => relative(EVTX_CORPUS, f));
  assert.deepEqual(onDisk.filter((f) => !listed.has(f)), []);
  assert.ok(rows.length >= 56, `expected 56 rows, got ${rows.length}`);
});

for (const row of rows) {
  test(`records recovered: ${row.file}`, async () => {
    const file = join(EVTX_CORPUS, row.file);
    const { ok, recovered, errors } = await count(file);
    const debianBest = Math.max(row.libevtxRecords, row.pyevtxRecords);
    assert.ok(ok >= debianBest, `${row.file}: ${ok} records, Debian tools recover ${debianBest} (libevtx ${row.libevtxRecords}, python-evtx ${row.pyevtxRecords})`);
    const allocated = row.evtxinfoRecords;
    assert.ok(ok >= allocated, `${row.file}: ${ok} records, evtxinfo counts ${allocated} allocated records`);

    const fromManifest = manifest.get(row.file);
    const crate = row.crateOk !== undefined ? { ok: row.crateOk, err: row.crateErr } : fromManifest ? manifestExpectation(fromManifest) : undefined;
    if (crate) {
      assert.equal(ok - recovered, crate.ok, `${row.file}: the Rust evtx crate expects ${crate.ok} records (we have ${ok}, ${recovered} of them recovered after damage)`);
      if (recovered > 0) assert.ok(errors.length > 0, `${row.file}: recovered records imply reported damage`);
      if ((crate.err ?? 0) > 0) {
        assert.ok(errors.length > 0, `${row.file}: the crate reports ${crate.err} damaged records/chunks; we reported none`);
      }
    }
    if (row.crateNote?.includes('data_size=0')) {
      assert.ok(
        errors.some((e) => e.recordId !== undefined || e.offset !== undefined),
        `${row.file}: the record with data size 0 must be reported with its location; errors: ${JSON.stringify(errors.slice(0, 3))}`,
      );
    }
    for (const e of errors) {
      assert.equal(e.file, file, 'errors name the file they come from');
      assert.ok(e.reason.length > 0, 'errors carry a reason');
    }
  });
}
