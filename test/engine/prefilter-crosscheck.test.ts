/**
 * The shared literal prefilter never changes results: SigmaHQ's whole rules/windows set gives the same
 * detections with and without it, over the EVTX corpus and over a generated realistic stream.
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadRules } from '../../src/rules/index.js';
import { compileEngine, type Engine } from '../../src/engine/index.js';
import { decodeFile } from '../../src/formats/index.js';
import type { WinEvent } from '../../src/model/event.js';
import { generate } from '../../bench/sigma.bench.js';
import { CORPUS } from '../helpers/paths.js';

const corpus = CORPUS;
const { rules } = await loadRules({ paths: [join(corpus, 'sigma', 'rules', 'windows')] });
const fast = compileEngine(rules);
const plain = compileEngine(rules, { prefilter: false });

function evtxFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) evtxFiles(full, out);
    else if (name.endsWith('.evtx')) out.push(full);
  }
  return out;
}

const ids = (engine: Engine, ev: WinEvent): string => engine.match(ev).map((d) => d.rule.id).join(',');

test('same detections with and without the prefilter over a generated stream', () => {
  let detections = 0;
  for (const ev of generate(20000)) {
    const want = ids(plain, ev);
    assert.equal(ids(fast, ev), want, JSON.stringify(ev.data));
    if (want) detections++;
  }
  assert.ok(detections > 1000, `events with detections: ${detections}`);
  assert.ok(fast.stats().evaluated * 10 < plain.stats().evaluated, 'the prefilter skips most evaluations');
});

test('same detections with and without the prefilter over the EVTX corpus', async () => {
  let events = 0;
  let detections = 0;
  for (const file of evtxFiles(join(corpus, 'evtx'))) {
    for await (const item of decodeFile({ path: file })) {
      if (!('event' in item)) continue;
      events++;
      const want = ids(plain, item.event);
      assert.equal(ids(fast, item.event), want, `${file}: record ${item.event.system.recordId}`);
      if (want) detections++;
    }
  }
  assert.ok(events > 10000, `events: ${events}`);
  assert.ok(detections > 100, `events with detections: ${detections}`);
});
