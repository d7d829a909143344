/**
 * Compiled template plans (src/evtx/fieldsPlan.ts, the fast path of readEventFields): on every record of the
 * corpus, whenever a plan answers, the tree renders without error and gives the same System and data, the same
 * JSON text included (key order: the plan copies a per-template key shape); and the plan is the path actually
 * taken for the usual records (Sysmon, Security EventData). Damaged mutants: a plan never answers where the tree
 * fails.
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEvtxBuffer, parseEvtxFile, type EvtxRecord } from '../../src/evtx/index.js';
import { recordToWinEvent } from '../../src/formats/evtxFile.js';
import { readEventFields, type EventFields as DirectEvent } from '../../src/evtx/index.js';
import { readFieldsPlanned } from '../../src/evtx/fieldsPlan.js';
import { ChunkRecord } from '../../src/evtx/record.js';
import { giveUpKind } from '../../src/evtx/fallback.js';
import type { EventOrigin, WinEvent } from '../../src/model/event.js';
import { allCorpusEvtxFiles, fuzzSeedFiles, requireCorpus } from './support/corpus.js';
import { loadSeedfiles, makeMutant } from './support/fuzz.js';

requireCorpus();

/** The plan's answer; giving up (not covered, damage) counts as no answer (readEventFields then walks); a bug throws. */
function planned(record: EvtxRecord): DirectEvent | undefined {
  if (!(record instanceof ChunkRecord)) return undefined;
  try {
    return readFieldsPlanned(record);
  } catch (err) {
    giveUpKind(err);
    return undefined;
  }
}

function tree(record: EvtxRecord, file: string): { event: WinEvent | null; failure: unknown } {
  const origin: EventOrigin = { file, chunk: record.chunkIndex, offset: record.offset, dialect: 'evtx' };
  try {
    return { event: recordToWinEvent(record, record.root(), origin), failure: null };
  } catch (err) {
    return { event: null, failure: err };
  }
}

/** Same System and data as the tree, to the JSON text (so in the same key order). */
function assertSame(plan: DirectEvent, t: { event: WinEvent | null; failure: unknown }, where: string): void {
  assert.equal(t.failure, null, `${where}: the plan answered where the tree fails`);
  const e = t.event!;
  assert.deepEqual(plan.system, e.system, where);
  assert.deepEqual(plan.data, e.data, where);
  assert.equal(JSON.stringify(plan.system), JSON.stringify(e.system), where);
  assert.equal(JSON.stringify(plan.data), JSON.stringify(e.data), where);
}

test('corpus: a plan answers only with the tree path\'s event, and answers for the usual Sysmon and Security records', async () => {
  let records = 0;
  let answered = 0;
  const usual = { records: 0, answered: 0 };
  for (const file of allCorpusEvtxFiles()) {
    for await (const item of parseEvtxFile(file, { lazy: true })) {
      if ('error' in item) continue;
      const record = item.record;
      records++;
      const plan = planned(record);
      const t = tree(record, file);
      const p = t.event?.system.provider;
      const isUsual = (p === 'Microsoft-Windows-Sysmon' || p === 'Microsoft-Windows-Security-Auditing') && t.event !== null && !('UserData' in t.event.data);
      if (isUsual) usual.records++;
      if (plan === undefined) continue;
      answered++;
      if (isUsual) usual.answered++;
      const where = `${file} record ${record.recordId} @${record.offset}`;
      assertSame(plan, t, where);
      // readEventFields takes the plan's answer as it is.
      assert.deepEqual(readEventFields(record), plan, where);
    }
  }
  console.log(`plans answered for ${answered} of ${records} records; Sysmon/Security ${usual.answered} of ${usual.records}`);
  assert.ok(usual.records > 5_000, `only ${usual.records} Sysmon/Security records`);
  assert.ok(usual.answered / usual.records > 0.95, `plans answered for ${usual.answered} of ${usual.records} Sysmon/Security records`);
  assert.ok(answered / records > 0.8, `plans answered for ${answered} of ${records} records`);
});

test('damaged records (600 fixed-seed mutants): a plan never answers where the tree fails, and agrees where both answer', { timeout: 120_000 }, () => {
  const seeds = loadSeedfiles(fuzzSeedFiles());
  let answered = 0;
  let treeFailures = 0;
  for (let i = 0; i < 600; i++) {
    const mutant = makeMutant(0x91a7, i, seeds);
    for (const item of parseEvtxBuffer(mutant.bytes, mutant.base, { lazy: true, validateChecksums: false })) {
      if ('error' in item) continue;
      const record = item.record;
      const plan = planned(record);
      const t = tree(record, mutant.base);
      if (t.failure !== null) treeFailures++;
      if (plan === undefined) continue;
      answered++;
      assertSame(plan, t, `mutant ${i} (${mutant.kind} ${mutant.detail} of ${mutant.base}) record @${record.offset}`);
    }
  }
  assert.ok(answered > 1000 && treeFailures > 0, `answered ${answered}, tree failures ${treeFailures}`);
});
