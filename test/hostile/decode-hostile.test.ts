/**
 * Hostile input to the decoders (scan and serve share them), each decoded in a child process so its peak RSS is
 * its own: deep nesting, one huge event, an EVTX stream in gzip over the spool cap. Events around the bad input
 * must survive; each case has a time and memory bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from '../helpers/paths.js';

interface Outcome {
  items: string[];
  seconds: number;
  maxRssMiB: number;
  spoolsLeft: number;
}

/**
 * `heapMiB` caps the child's V8 heap: an input that the decoder held whole would not fit, so the cap proves the
 * bound, and a small heap makes V8 collect the streamed chunks early, which keeps the RSS figure steady (without
 * it the peak wandered 190–252 MiB between runs of the same code).
 */
function decodeIn(kind: string, heapMiB?: number): Outcome {
  const heap = heapMiB === undefined ? [] : [`--max-old-space-size=${heapMiB}`];
  const out = execFileSync(process.execPath, [...heap, '--import', 'tsx', 'test/hostile/support/decodeChild.ts', kind], { cwd: REPO_ROOT, maxBuffer: 1 << 20 });
  return JSON.parse(out.toString()) as Outcome;
}

test('5,000-level JSON nesting (array, object, inside an array): located errors, the events before and after survive (bound 5 s, 300 MiB)', () => {
  const o = decodeIn('deep-json');
  assert.equal(o.items[0], 'event 1');
  assert.equal(o.items.at(-1), 'event 1', 'the last good event survives');
  assert.ok(o.items.filter((i) => i.startsWith('error line ')).length >= 2, o.items.join('\n'));
  assert.ok(o.items.some((i) => /^error line 2: an array inside the array/.test(i)), o.items.join('\n'));
  assert.ok(o.items.some((i) => /nested deeper than 256 levels/.test(i)), o.items.join('\n'));
  assert.ok(o.seconds < 5 && o.maxRssMiB < 300, `${o.seconds.toFixed(2)} s, ${o.maxRssMiB.toFixed(0)} MiB`);
});

test('an 80 MB JSON event: skipped with an error at its line while streaming; neighbours kept (bound 96 MiB heap, 250 MiB peak RSS, 20 s)', () => {
  const o = decodeIn('huge-json', 96);
  assert.deepEqual(o.items, ['event 1', 'error line 2: JSON document larger than 8 MiB; skipped', 'event 1']);
  assert.ok(o.maxRssMiB < 250, `peak RSS ${o.maxRssMiB.toFixed(0)} MiB`);
  assert.ok(o.seconds < 20, `${o.seconds.toFixed(1)} s`);
});

test('an 80 MB XML event: skipped with an error at its line while streaming; neighbours kept (bound 96 MiB heap, 250 MiB peak RSS, 20 s)', () => {
  const o = decodeIn('huge-xml', 96);
  assert.deepEqual(o.items, ['event 1', 'error line 2: event larger than 8 MiB; skipped', 'event 2']);
  assert.ok(o.maxRssMiB < 250, `peak RSS ${o.maxRssMiB.toFixed(0)} MiB`);
  assert.ok(o.seconds < 20, `${o.seconds.toFixed(1)} s`);
});

test('5,000-level XML nesting: a located error, the next event read', () => {
  const o = decodeIn('deep-xml');
  assert.match(o.items[0]!, /^error line 1: malformed XML: elements nested deeper than 64 levels/);
  assert.equal(o.items[1], 'event 2');
});

test('EVTX inside gzip inflating to 512 MiB with a 64 MiB spool cap: a clear error, nothing left in the temp dir (bound 300 MiB, 20 s)', () => {
  const o = decodeIn('evtx-gzip');
  assert.equal(o.items.length, 1);
  assert.match(o.items[0]!, /EVTX stream over the spool limit of 64 MiB/);
  assert.equal(o.spoolsLeft, 0);
  assert.ok(o.maxRssMiB < 300 && o.seconds < 20, `${o.seconds.toFixed(1)} s, ${o.maxRssMiB.toFixed(0)} MiB`);
});
