/**
 * Fast paths that give up say why: every record the event-field reader, the System key or the JSON byte writer hands back is
 * counted under exactly one named reason (fallbackCounts), on corpus files and on damaged mutants; an error that
 * is neither "not covered" nor damage (a bug) is rethrown, never taken for a fallback; `scan --verbose` prints
 * the counts as one line.
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fallbackCounts, FALLBACK_REASONS, parseEvtxBuffer, parseEvtxFile, readEventFields, recordSystemKey, type EvtxRecord, type FallbackReason } from '../../src/evtx/index.js';
import { ChunkRecord } from '../../src/evtx/record.js';
import { ByteSink, writeRecordJson } from '../../src/evtx/render/jsonDirect.js';
import { EvtxFormatError } from '../../src/evtx/bytes.js';
import { giveUpKind, NOT_COVERED } from '../../src/evtx/fallback.js';
import { runCli } from '../helpers/cli.js';
import { allCorpusEvtxFiles, fuzzSeedFiles, requireCorpus } from './support/corpus.js';
import { loadSeedfiles, makeMutant } from './support/fuzz.js';

requireCorpus();

function delta(before: Record<FallbackReason, number>, prefix: string): number {
  const after = fallbackCounts();
  let n = 0;
  for (const r of FALLBACK_REASONS) if (r.startsWith(prefix)) n += after[r] - before[r];
  return n;
}

/** Checks one record; returns whether each fast path gave up. */
function checkRecord(record: EvtxRecord, where: string): { fields: boolean; json: boolean } {
  let before = fallbackCounts();
  const fields = readEventFields(record);
  assert.equal(delta(before, 'fields.'), fields === null ? 1 : 0, `${where}: readEventFields ${fields === null ? 'gave up without a reason' : 'answered yet counted a fields fallback'}`);
  before = fallbackCounts();
  let key: ReturnType<typeof recordSystemKey> | 'damaged' = 'damaged';
  try {
    key = recordSystemKey(record);
  } catch (err) {
    assert.ok(giveUpKind(err) === 'damaged', `${where}: recordSystemKey threw a bug`);
  }
  assert.equal(delta(before, 'key.'), key === null ? 1 : 0, `${where}: System key fallback count`);
  let json = false;
  if (record instanceof ChunkRecord) {
    before = fallbackCounts();
    const sink = new ByteSink(1024);
    json = !writeRecordJson(record, sink);
    assert.equal(delta(before, 'json.'), json ? 1 : 0, `${where}: JSON writer fallback count`);
    if (json) assert.equal(sink.pos, 0, `${where}: a JSON writer that gives up leaves nothing written`);
  }
  return { fields: fields === null, json };
}

test('corpus: every fallback of the field reader and the JSON writer is counted under one reason', async () => {
  let records = 0;
  let gaveUp = 0;
  for (const file of allCorpusEvtxFiles().slice(0, 80)) {
    for await (const item of parseEvtxFile(file, { lazy: true })) {
      if ('error' in item) continue;
      records++;
      const r = checkRecord(item.record, `${file} record ${item.record.recordId}`);
      if (r.fields || r.json) gaveUp++;
    }
  }
  assert.ok(records > 1000, `only ${records} records`);
  console.log(`${records} records, ${gaveUp} with a fallback; counts: ${JSON.stringify(fallbackCounts())}`);
});

test('damaged mutants: fallbacks are counted as damage where the tree fails', { timeout: 120_000 }, () => {
  const seeds = loadSeedfiles(fuzzSeedFiles());
  const before = fallbackCounts();
  let treeFailures = 0;
  for (let i = 0; i < 300; i++) {
    const mutant = makeMutant(0xfa11, i, seeds);
    for (const item of parseEvtxBuffer(mutant.bytes, mutant.base, { lazy: true, validateChecksums: false })) {
      if ('error' in item) continue;
      const r = checkRecord(item.record, `mutant ${i} (${mutant.kind}) record @${item.record.offset}`);
      try {
        item.record.root();
      } catch {
        treeFailures++;
        // Where the tree fails, neither fast path may have answered.
        assert.ok(r.fields && r.json, `mutant ${i}: a fast path answered where the tree fails`);
      }
    }
  }
  const after = fallbackCounts();
  assert.ok(treeFailures > 0, 'the mutants damage some records');
  assert.ok(after['fields.damaged'] > before['fields.damaged'] && after['json.damaged'] > before['json.damaged'], JSON.stringify(after));
});

test('giveUpKind: GiveUp and format damage are fallbacks; any other error (a bug) is rethrown', () => {
  assert.equal(giveUpKind(NOT_COVERED), 'shape');
  assert.equal(giveUpKind(new EvtxFormatError('bad', 12)), 'damaged');
  assert.equal(giveUpKind(new RangeError('Offset is outside the bounds of the DataView')), 'damaged');
  const bug = new TypeError("Cannot read properties of undefined (reading 'kind')");
  assert.throws(() => giveUpKind(bug), (err) => err === bug);
});

test('scan --verbose prints the fallback counts as one line', async () => {
  const file = allCorpusEvtxFiles().find((f) => f.endsWith('sysmon.evtx'))!;
  const r = await runCli(['scan', '--verbose', '--no-progress', '-f', 'jsonl', file]);
  const lines = r.stderr.split('\n').filter((l) => l.includes('EVTX fast-path fallbacks:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /fallbacks: (none|([a-z]+\.[a-z]+ \d+(, )?)+)$/);
  const quiet = await runCli(['scan', '--no-progress', '-f', 'jsonl', file]);
  assert.ok(!quiet.stderr.includes('fast-path fallbacks'), 'only with --verbose');
});
