/**
 * Long mutation-fuzz run of the EVTX parser (the test suite runs a short one with a fixed seed).
 *
 *   node --import tsx scripts/fuzz-evtx.ts [--cases 200000] [--seed N] [--timeout-ms 5000] [--seeds a.evtx,b.evtx]
 *   node --import tsx scripts/fuzz-evtx.ts --seed N --case I --out mutant.evtx     # reproduce one case as a file
 *
 * Seeds default to the corpus fuzz seeds plus a writer fixture. Exit code 1 when any case fails (exception
 * escaping iteration/rendering, over the time bound, heap growth over the bound, implausible item count, hang).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fuzzSeedFiles } from '../test/evtx/support/corpus.js';
import { loadSeedfiles, makeMutant, runFuzz } from '../test/evtx/support/fuzz.js';
import { everyFeatureFile } from '../test/evtx/writer/samples.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    'timeout-ms': { type: 'string', default: '5000' },
    'max-heap-mb': { type: 'string', default: '96' },
    seeds: { type: 'string' },
    case: { type: 'string' },
    out: { type: 'string' },
  },
});

const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Date.now() & 0x7fffffff) >>> 0;
const seedPaths = values.seeds ? values.seeds.split(',') : fuzzSeedFiles();

if (values.case !== undefined) {
  // Rebuild one mutant exactly as the worker did (same seed list, fixture appended last).
  const seeds = loadSeedfiles(seedPaths);
  seeds.push({ name: 'writer:every-feature', bytes: everyFeatureFile() });
  const m = makeMutant(seed, Number(values.case), seeds);
  const out = values.out ?? `fuzz-${seed}-${m.index}.evtx`;
  writeFileSync(out, m.bytes);
  console.log(`case ${m.index}: ${m.base}, ${m.kind}: ${m.detail} → ${out} (${m.bytes.length} bytes)`);
  process.exit(0);
}

const cases = Number(values.cases);
const started = Date.now();
let done = 0;
let bytes = 0;
let records = 0;
let errors = 0;
let slowest = { ms: 0, what: '' };
console.log(`fuzzing the EVTX parser: ${cases} cases, seed ${seed}, ${seedPaths.length} corpus seeds + writer fixture`);
const report = await runFuzz(
  {
    seed,
    cases,
    seedPaths,
    caseTimeoutMs: Number(values['timeout-ms']),
    maxHeapGrowth: Number(values['max-heap-mb']) * 1024 * 1024,
    includeFixtures: true,
  },
  (r) => {
    done++;
    bytes += r.size;
    records += r.records;
    errors += r.errors;
    if (r.ms > slowest.ms) slowest = { ms: r.ms, what: `case ${r.index} (${r.base}, ${r.kind}: ${r.detail})` };
    if (r.exception) console.log(`FAIL case ${r.index} (${r.base}, ${r.kind}: ${r.detail}): ${r.exception.split('\n')[0]}`);
    if (done % 5000 === 0) {
      const s = (Date.now() - started) / 1000;
      console.log(`${done}/${cases} cases, ${(bytes / 1048576 / s).toFixed(1)} MB/s, ${records} records, ${errors} error items`);
    }
  },
);
const secs = (Date.now() - started) / 1000;
console.log(
  `done: ${report.results.length} cases in ${secs.toFixed(1)} s, ${(bytes / 1048576).toFixed(0)} MB parsed, ` +
    `${records} records, ${errors} error items; slowest ${slowest.ms.toFixed(0)} ms: ${slowest.what}`,
);
if (report.failures.length > 0) {
  console.log(`${report.failures.length} failures (reproduce: --seed ${seed} --case N --out f.evtx):`);
  for (const f of report.failures.slice(0, 50)) console.log(`  ${f.split('\n')[0]}`);
  process.exit(1);
}
console.log('no failures');
