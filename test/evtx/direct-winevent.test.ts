/**
 * The direct WinEvent reading (src/evtx/fields.ts: System, EventData and UserData read from the template
 * and values without the element tree) against the tree path (`tree: true`, recordToWinEvent on the rendered
 * tree), on every record of every corpus EVTX file (../shared/corpus/evtx and the Sigma regression data):
 * decodeEvtxFile gives deep-equal items, events and errors alike, in every mode (every record, prefilter +
 * keepEvents, worker threads); per record, whenever the direct reading answers the tree renders without error
 * and gives the same System and data; and it answers for nearly every record (it is the path actually taken).
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEvtxBuffer, parseEvtxFile, readEventFields } from '../../src/evtx/index.js';
import { decodeEvtxFile, recordToWinEvent, type EvtxDecodeOptions } from '../../src/formats/evtxFile.js';
import type { DecodeItem, EventOrigin } from '../../src/model/event.js';
import { allCorpusEvtxFiles, fuzzSeedFiles, requireCorpus } from './support/corpus.js';
import { loadSeedfiles, makeMutant } from './support/fuzz.js';

requireCorpus();

const files = allCorpusEvtxFiles();

async function items(file: string, options: EvtxDecodeOptions): Promise<DecodeItem[]> {
  const out: DecodeItem[] = [];
  for await (const item of decodeEvtxFile(file, options)) out.push(item);
  return out;
}

test(`corpus: ${files.length} EVTX files (evtx + Sigma regression data)`, () => {
  assert.ok(files.length >= 250, `expected the whole corpus, found ${files.length} files`);
  assert.ok(files.some((f) => f.includes('regression_data')), 'Sigma regression data missing');
});

const MODES: { name: string; options: EvtxDecodeOptions }[] = [
  { name: 'every record', options: {} },
  {
    name: 'literals + keepEvents',
    options: {
      prefilterLiterals: ['certreq', 'win.ini', 'powershell'],
      keepEvents: [
        { provider: 'Microsoft-Windows-Sysmon', eventIds: [1, 3, 5, 11, 22] },
        { provider: 'Microsoft-Windows-Security-Auditing', eventIds: [4688, 4689] },
      ],
    },
  },
];

for (const mode of MODES) {
  test(`decodeEvtxFile (${mode.name}): direct path items deep-equal the tree path's, errors included, on every corpus file`, async () => {
    let events = 0;
    let errors = 0;
    for (const file of files) {
      const tree = await items(file, { ...mode.options, tree: true, threads: 1 });
      const direct = await items(file, { ...mode.options, threads: 1 });
      assert.deepEqual(direct, tree, file);
      for (const i of direct) if ('event' in i) events++;
      else errors++;
    }
    assert.ok(events > (mode.name === 'every record' ? 20_000 : 1_000), `only ${events} events`);
    if (mode.name === 'every record') assert.ok(errors > 0, 'the corpus has damaged files: errors must be compared too');
  });
}

test('worker threads: direct path items deep-equal the tree path on the largest corpus files', async () => {
  const { statSync } = await import('node:fs');
  const big = [...files].sort((a, b) => statSync(b).size - statSync(a).size).slice(0, 3);
  for (const file of big) {
    const tree = await items(file, { tree: true, threads: 1 });
    const direct = await items(file, { threads: 2 });
    assert.deepEqual(direct, tree, file);
  }
});

test('per record: when the direct reading answers, the tree renders without error and gives the same event; it answers for > 99% of records', async () => {
  let records = 0;
  let answered = 0;
  for (const file of files) {
    for await (const item of parseEvtxFile(file, { lazy: true })) {
      if ('error' in item) continue;
      const record = item.record;
      records++;
      const direct = readEventFields(record);
      const origin: EventOrigin = { file, chunk: record.chunkIndex, offset: record.offset, dialect: 'evtx' };
      let tree: ReturnType<typeof recordToWinEvent> | null = null;
      let failure: unknown = null;
      try {
        tree = recordToWinEvent(record, record.root(), origin);
      } catch (err) {
        failure = err;
      }
      if (direct === null) continue;
      answered++;
      assert.equal(failure, null, `${file} record ${record.recordId} @${record.offset}: direct answered where the tree fails`);
      assert.deepEqual({ ...direct, origin }, tree, `${file} record ${record.recordId} @${record.offset}`);
    }
  }
  assert.ok(records > 20_000, `only ${records} records`);
  assert.ok(answered / records > 0.99, `direct path answered for ${answered} of ${records} records`);
  console.log(`direct path answered for ${answered} of ${records} records`);
});

test('damaged records (600 fixed-seed mutants of corpus files): the direct reading never answers where the tree fails, and agrees where both answer', { timeout: 120_000 }, () => {
  const seeds = loadSeedfiles(fuzzSeedFiles());
  let answered = 0;
  let treeFailures = 0;
  for (let i = 0; i < 600; i++) {
    const mutant = makeMutant(0xd1ec7, i, seeds);
    for (const item of parseEvtxBuffer(mutant.bytes, mutant.base, { lazy: true, validateChecksums: false })) {
      if ('error' in item) continue;
      const record = item.record;
      const direct = readEventFields(record);
      const origin: EventOrigin = { file: mutant.base, chunk: record.chunkIndex, offset: record.offset, dialect: 'evtx' };
      let tree: ReturnType<typeof recordToWinEvent> | null = null;
      let failure: unknown = null;
      try {
        tree = recordToWinEvent(record, record.root(), origin);
      } catch (err) {
        failure = err;
        treeFailures++;
      }
      if (direct === null) continue;
      answered++;
      const where = `mutant ${i} (${mutant.kind} ${mutant.detail} of ${mutant.base}) record @${record.offset}`;
      assert.equal(failure, null, `${where}: direct answered where the tree fails`);
      assert.deepEqual({ ...direct, origin }, tree, where);
    }
  }
  assert.ok(answered > 1000 && treeFailures > 0, `answered ${answered}, tree failures ${treeFailures}`);
});
