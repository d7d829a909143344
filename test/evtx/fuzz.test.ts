/**
 * Mutation fuzz (fixed seed, ~20 s): bit flips, interesting values, truncations, spliced and duplicated
 * chunks of corpus files and of a writer fixture. For every mutant: no exception escapes parseEvtxBuffer
 * iteration (eager, and lazy behind the literal prefilter as scan uses it) or the eager rendering of what it
 * yields, it finishes within a time bound (a hang is killed by a
 * watchdog and named), heap growth stays bounded and the number of items is plausible for the input size.
 * Longer runs: scripts/fuzz-evtx.ts (npm run fuzz:evtx -- --cases N --seed S).
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzSeedFiles, requireCorpus } from './support/corpus.js';
import { runFuzz } from './support/fuzz.js';

requireCorpus();

const SEED = 0x5eed2026;
const CASES = Number(process.env['EVTX_FUZZ_CASES'] ?? 3000);

test(`mutation fuzz: ${CASES} mutants, seed 0x${SEED.toString(16)}: no exception, no hang, bounded memory`, { timeout: 180_000 }, async () => {
  const report = await runFuzz({
    seed: SEED,
    cases: CASES,
    seedPaths: fuzzSeedFiles(),
    caseTimeoutMs: 5_000,
    maxHeapGrowth: 96 * 1024 * 1024, // observed max 26 MB on ≤1.3 MB inputs
    includeFixtures: true,
  });
  assert.deepEqual(report.failures.slice(0, 15), [], `${report.failures.length} fuzz failures`);
  assert.equal(report.results.length, CASES, 'every mutant was run to completion');
  const kinds = new Set(report.results.map((r) => r.kind));
  assert.ok(kinds.size >= 6, `mutation kinds exercised: ${[...kinds].join(', ')}`);
  assert.ok(report.results.some((r) => r.records > 0 && r.errors > 0), 'some mutants are partly readable (damage handled, rest kept)');
});
