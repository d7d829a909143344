/**
 * `npm run bench` refreshes docs/benchmarks.md (bench/report.mjs): each benchmark that ran gets its printed
 * figures under a line with the date and the machine; the rest of the document and the other benchmarks' sections
 * stay as they were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BEGIN, END, machineLine, updateBenchmarksDoc, type BenchResult } from '../../bench/report.mjs';
import { REPO_ROOT } from '../helpers/paths.js';

const DOC = readFileSync(join(REPO_ROOT, 'docs', 'benchmarks.md'), 'utf8');

function result(name: string, output: string, at: string, status: number | null = 0): BenchResult {
  return { name, output, status, date: new Date(at), machine: '2 × Test CPU, 8 GiB, Node v20.0.0' };
}

/** The generated part of a document (between the markers). */
function generated(doc: string): string {
  return doc.slice(doc.indexOf(BEGIN) + BEGIN.length, doc.indexOf(END));
}

test('docs/benchmarks.md has the generated part that npm run bench rewrites', () => {
  assert.ok(DOC.indexOf(BEGIN) > 0 && DOC.indexOf(END) > DOC.indexOf(BEGIN), 'markers present, in order');
});

test('a run writes the printed figures under a date and machine line, and keeps the hand-written part', () => {
  const out = updateBenchmarksDoc(DOC, [result('scan.bench.ts', 'procwatch scan (built-in)  13.52  74,300 events/s', '2026-12-03T10:15:00Z')]);
  assert.equal(out.slice(0, out.indexOf(BEGIN)), DOC.slice(0, DOC.indexOf(BEGIN)), 'everything above the markers is unchanged');
  const part = generated(out);
  assert.match(part, /^### scan\.bench\.ts$/m);
  assert.match(part, /^Run 2026-12-03 10:15 UTC on 2 × Test CPU, 8 GiB, Node v20\.0\.0\.$/m);
  assert.ok(part.includes('procwatch scan (built-in)  13.52  74,300 events/s'), 'figures kept verbatim');
});

test('a subset run replaces its own sections and keeps the others', () => {
  const first = updateBenchmarksDoc(DOC, [
    result('scan.bench.ts', 'scan figures v1', '2026-12-01T08:00:00Z'),
    result('evtx.bench.ts', 'evtx figures v1', '2026-12-01T08:05:00Z'),
  ]);
  const second = updateBenchmarksDoc(first, [result('scan.bench.ts', 'scan figures v2', '2026-12-02T09:00:00Z', 1)]);
  const part = generated(second);
  assert.ok(part.includes('evtx figures v1') && part.includes('Run 2026-12-01 08:05 UTC'), 'the benchmark that did not run keeps its section');
  assert.ok(part.includes('scan figures v2') && !part.includes('scan figures v1'), 'the one that ran is replaced');
  assert.match(part, /Run 2026-12-02 09:00 UTC on .* exited with 1, figures may be incomplete\./);
  assert.ok(part.indexOf('### evtx.bench.ts') < part.indexOf('### scan.bench.ts'), 'sections in name order');
  assert.equal(second.split(BEGIN).length, 2, 'one generated part, not a second one');
});

test('printed output cannot break the Markdown: colour codes, progress redraws and fences are cleaned', () => {
  const out = generated(updateBenchmarksDoc(DOC, [result('x.bench.ts', '\x1b[32mok\x1b[0m\nprogress 10%\rprogress 100%\n```\n', '2026-12-03T00:00:00Z')]));
  assert.ok(out.includes('ok\nprogress 100%'), out);
  assert.ok(!out.includes('\x1b') && !out.includes('10%'));
  // Only this section's fences: the document may already hold other benchmarks' generated sections.
  const own = out.slice(out.indexOf('### x.bench.ts')).split(/\n### /)[0]!;
  assert.equal(own.split('```').length - 1, 2, 'only the section’s own fence');
});

test('a document without the markers gets a "Latest runs" part appended', () => {
  const out = updateBenchmarksDoc('# Benchmarks\n\ntext\n', [result('a.bench.ts', 'figures', '2026-12-03T00:00:00Z')]);
  assert.ok(out.startsWith('# Benchmarks\n\ntext\n\n## Latest runs'));
  assert.ok(generated(out).includes('figures'));
});

test('the machine line names cores, CPU model, memory and Node version', () => {
  assert.match(machineLine(), /^\d+ × .+, \d+ GiB, Node v\d+\.\d+\.\d+, .+; load average [\d.]+ [\d.]+ [\d.]+$/);
});
