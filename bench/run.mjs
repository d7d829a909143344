#!/usr/bin/env node
// `npm run bench`: runs every bench/*.bench.ts (or .mjs) in turn. Each prints its own figures; this is a
// measurement harness, not a pass/fail test. Pass substrings to run a subset: `npm run bench -- scan evtx`.
// What each benchmark prints is also written to docs/benchmarks.md (its section of the generated part, with the
// date and the machine), so the published figures are always the last ones measured.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { machineLine, updateBenchmarksDoc } from './report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const docPath = join(here, '..', 'docs', 'benchmarks.md');
const filters = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((f) => /\.bench\.(ts|mjs)$/.test(f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
console.log(`procwatch benchmarks — ${machineLine()}`);

/** Runs one benchmark, echoing its stdout as it comes and keeping a copy for the document. */
function runBench(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, file)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks = [];
    child.stdout.on('data', (b) => {
      chunks.push(b);
      process.stdout.write(b);
    });
    child.on('close', (status) => resolve({ status, output: Buffer.concat(chunks).toString('utf8') }));
  });
}

let failed = 0;
const results = [];
for (const f of benches) {
  console.log(`\n=== ${f}`);
  const date = new Date();
  const machine = machineLine();
  const r = await runBench(f);
  if (r.status !== 0) {
    console.log(`(${f} exited with ${r.status})`);
    failed++;
  }
  results.push({ name: f, output: r.output, status: r.status, date, machine });
}
if (results.length > 0) {
  writeFileSync(docPath, updateBenchmarksDoc(readFileSync(docPath, 'utf8'), results));
  console.log(`\n${docPath}: ${results.map((r) => r.name).join(', ')} refreshed`);
}
process.exit(failed > 0 ? 1 : 0);
