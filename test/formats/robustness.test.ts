/**
 * Damaged input never throws and never stops the decoder: seeded random corruption (byte flips, cuts, inserted
 * junk, duplicated slices) of every corpus example and sample yields only events and located errors.
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { toProcessEvent } from '../../src/model/toProcess.js';
import { corpus, decodeBytes, repoRoot } from './helpers.js';
import { rng } from '../helpers/rng.js';


function mutate(input: Buffer, random: () => number): Buffer {
  const b = Buffer.from(input);
  const pick = (n: number) => Math.floor(random() * n);
  switch (pick(4)) {
    case 0:
      for (let i = 0; i < 1 + pick(8); i++) b[pick(b.length)] = pick(256);
      return b;
    case 1:
      return b.subarray(0, pick(b.length));
    case 2: {
      const at = pick(b.length);
      return Buffer.concat([b.subarray(0, at), Buffer.from(['{', '}', '<', '>', '"', '\\', '\n', '</Event>', '<Event>', ']', '['][pick(11)]!), b.subarray(at)]);
    }
    default: {
      const from = pick(b.length);
      const to = from + pick(b.length - from);
      return Buffer.concat([b.subarray(0, to), b.subarray(from, to), b.subarray(to)]);
    }
  }
}

const inputs: Array<[string, Buffer]> = [
  ...readdirSync(join(corpus, 'formats'))
    .filter((f) => /\.(json|xml|log)$/.test(f))
    .map((f): [string, Buffer] => [f, readFileSync(join(corpus, 'formats', f))]),
  ...readdirSync(join(repoRoot, 'samples')).map((f): [string, Buffer] => {
    const raw = readFileSync(join(repoRoot, 'samples', f));
    return [f, f.endsWith('.gz') ? gunzipSync(raw) : raw];
  }),
];

test('random corruption of every example yields events and located errors, never an exception', async () => {
  const random = rng(20240501);
  let errors = 0;
  for (const [name, bytes] of inputs) {
    for (let round = 0; round < 40; round++) {
      const damaged = mutate(bytes, random);
      const r = await decodeBytes(damaged, name, {}, 1 + Math.floor(random() * 300));
      for (const e of r.errors) {
        assert.equal(e.file, name);
        assert.ok(e.reason.length > 0);
        if (e.line !== undefined) assert.ok(Number.isInteger(e.line) && e.line >= 1, `${name}: line ${e.line}`);
      }
      for (const ev of r.events) {
        assert.ok(Number.isInteger(ev.system.eventId));
        assert.match(ev.system.timeCreated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$/);
        assert.ok(!Number.isNaN(Date.parse(ev.system.timeCreated)));
        toProcessEvent(ev); // must not throw on damaged fields
      }
      errors += r.errors.length;
    }
  }
  assert.ok(errors > 0, 'the corruption did produce errors');
});
