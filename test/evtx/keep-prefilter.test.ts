/**
 * Context-preserving prefilter (DecodeOptions.keepEvents): on every EVTX file of the corpus, the records
 * decodeEvtxFile keeps with literals + keepEvents are compared against a full decode of the same file:
 * nothing that holds a literal or is a kept provider/EventID may be missing, and what is kept is decoded
 * exactly as the full decode does. recordSystemKey (the cheap header read behind it) is checked against
 * the rendered tree on every record.
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEvtxFile, recordSystemKey } from '../../src/evtx/index.js';
import { decodeEvtxFile, recordToWinEvent } from '../../src/formats/evtxFile.js';
import { decodeFile, type KeepEvent } from '../../src/formats/index.js';
import { dumpEvtx } from '../../src/cli/dump.js';
import type { WinEvent } from '../../src/model/event.js';
import { allCorpusEvtxFiles, EVTX_CORPUS, requireCorpus } from './support/corpus.js';
import { CONTEXT_EVENTS } from '../../src/correlate/index.js';

requireCorpus();

/** The correlator's context events (process trees and lifetimes). */
const CONTEXT: KeepEvent[] = [
  { provider: 'Microsoft-Windows-Sysmon', eventIds: [1, 3, 5, 11, 22] },
  { provider: 'Microsoft-Windows-Security-Auditing', eventIds: [4688, 4689] },
];

const files = allCorpusEvtxFiles();

function keyOf(e: WinEvent): string {
  return `${e.origin.chunk}:${e.origin.offset}`;
}

function isContext(e: WinEvent, keep: KeepEvent[]): boolean {
  const p = e.system.provider.toLowerCase();
  return keep.some((k) => k.provider.toLowerCase() === p && k.eventIds.includes(e.system.eventId));
}

/** Every rendered value of the event (System header and data), lower-cased. */
function valuesOf(e: WinEvent): string[] {
  const out: string[] = [];
  const add = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(add);
    else if (v !== undefined && v !== null) out.push(String(v).toLowerCase());
  };
  Object.values(e.system).forEach(add);
  Object.values(e.data).forEach(add);
  return out;
}

async function events(file: string, options: Parameters<typeof decodeEvtxFile>[1]): Promise<Map<string, WinEvent>> {
  const out = new Map<string, WinEvent>();
  for await (const item of decodeEvtxFile(file, options)) if ('event' in item) out.set(keyOf(item.event), item.event);
  return out;
}

for (const literals of [['certreq', 'win.ini'], ['powershell'], ['zq-no-such-literal-qz']]) {
  test(`literals ${JSON.stringify(literals)} + context events: nothing with a literal or a kept EventID is skipped (${files.length} files)`, async () => {
    let kept = 0;
    let keptOnlyAsContext = 0;
    let skipped = 0;
    for (const file of files) {
      const full = await events(file, {});
      const fast = await events(file, { prefilterLiterals: literals, keepEvents: CONTEXT });
      for (const [key, e] of full) {
        const mustKeep = isContext(e, CONTEXT) || valuesOf(e).some((v) => literals.some((l) => v.includes(l)));
        const got = fast.get(key);
        if (!got) {
          assert.ok(!mustKeep, `${file} ${key} (record ${e.system.recordId}, ${e.system.provider}/${e.system.eventId}) skipped but must be kept`);
          skipped++;
          continue;
        }
        assert.deepEqual(got, e, `${file} ${key}: kept event differs from the full decode`);
        kept++;
        if (isContext(e, CONTEXT) && !valuesOf(e).some((v) => literals.some((l) => v.includes(l)))) keptOnlyAsContext++;
      }
      for (const key of fast.keys()) assert.ok(full.has(key), `${file} ${key}: kept an event the full decode does not have`);
    }
    assert.ok(skipped > 0, 'the prefilter skipped nothing');
    assert.ok(keptOnlyAsContext > 100, `context events kept for their EventID alone: ${keptOnlyAsContext}`);
    assert.ok(kept > 0);
  });
}

test('lazy value decoding: events kept only for correlation carry their listed fields exactly, others as decoded in full', async () => {
  const literals = ['certreq', 'win.ini'];
  const withFields: KeepEvent[] = CONTEXT_EVENTS.map((k) => ({ provider: k.provider, eventIds: [...k.eventIds], fields: k.fields }));
  let projected = 0;
  let whole = 0;
  for (const file of files) {
    const full = await events(file, {});
    const lazy = await events(file, { prefilterLiterals: literals, keepEvents: withFields });
    const plain = await events(file, { prefilterLiterals: literals, keepEvents: CONTEXT });
    assert.deepEqual([...lazy.keys()], [...plain.keys()], `${file}: the same events are kept`);
    for (const [key, got] of lazy) {
      const e = full.get(key)!;
      assert.deepEqual(got.system, e.system, `${file} ${key}: System`);
      const holdsLiteral = valuesOf(e).some((v) => literals.some((l) => v.includes(l)));
      const wanted = withFields.find((k) => k.provider === e.system.provider && k.eventIds.includes(e.system.eventId))?.fields;
      if (holdsLiteral || !wanted) {
        assert.deepEqual(got, e, `${file} ${key}: an event that may match is decoded in full`);
        continue;
      }
      for (const f of wanted) assert.deepEqual(got.data[f], e.data[f], `${file} ${key}: field ${f}`);
      for (const f of Object.keys(got.data)) assert.deepEqual(got.data[f], e.data[f], `${file} ${key}: field ${f}`);
      if (Object.keys(got.data).length < Object.keys(e.data).length) projected++;
      else whole++;
    }
  }
  // Most are read by the compiled plans, which leave fields out; the rest (the walk) are whole.
  assert.ok(projected > 1000 && projected > whole, `fields left out of ${projected} events (${whole} whole)`);
});

test('keepEvents matches the provider case-insensitively; without literals nothing is skipped', async () => {
  const file = join(EVTX_CORPUS, 'evtx-crate', 'sysmon.evtx');
  const full = await events(file, {});
  const upper = await events(file, { prefilterLiterals: ['zq-no-such-literal-qz'], keepEvents: [{ provider: 'MICROSOFT-WINDOWS-SYSMON', eventIds: [1] }] });
  const ones = [...full.values()].filter((e) => e.system.eventId === 1);
  assert.ok(ones.length > 0);
  for (const e of ones) assert.ok(upper.has(keyOf(e)));
  const noLiterals = await events(file, { keepEvents: [{ provider: 'Microsoft-Windows-Sysmon', eventIds: [1] }] });
  assert.equal(noLiterals.size, full.size);
});

test('recordSystemKey equals the rendered header on every corpus record, and answers for most', async () => {
  let answered = 0;
  let total = 0;
  for (const file of files) {
    for await (const item of parseEvtxFile(file, { lazy: true })) {
      if ('error' in item) continue;
      const r = item.record;
      let event: WinEvent;
      try {
        event = recordToWinEvent(r, r.root(), { file, dialect: 'evtx' });
      } catch {
        continue; // damaged or not an event: nothing to compare
      }
      total++;
      const key = recordSystemKey(r);
      if (!key) continue;
      answered++;
      assert.equal(key.provider, event.system.provider, `${file} record ${r.recordId}: provider`);
      const id = key.eventIdText === undefined || key.eventIdText === '' ? undefined : Number(key.eventIdText.startsWith('0x') ? parseInt(key.eventIdText, 16) : key.eventIdText);
      assert.equal(id, event.system.eventId, `${file} record ${r.recordId}: EventID`);
    }
  }
  assert.ok(answered > total * 0.9, `answered without rendering for ${answered} of ${total} records`);
});

test('worker threads keep the same records as one thread', async () => {
  // 3 MiB, 49 chunks: several blocks across two workers; Security 4688 among other events.
  const file = join(EVTX_CORPUS, 'attack', 'hy_ID4688-5447-4950-Firewall_disabled_command_.evtx');
  const options = { prefilterLiterals: ['certreq', 'win.ini'], keepEvents: CONTEXT };
  const one = await events(file, options);
  const two = await events(file, { ...options, threads: 2 });
  assert.deepEqual([...two.keys()], [...one.keys()]);
  assert.ok(one.size > 0);
  assert.ok(one.size < (await events(file, {})).size);
});

test('NDJSON (a dump of an EVTX file): lines with a kept provider are decoded, the rest behind the literals', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'procwatch-keep-'));
  try {
    const jsonl = join(dir, 'sysmon.jsonl');
    const { PassThrough } = await import('node:stream');
    const code = await dumpEvtx(join(EVTX_CORPUS, 'attack', 'sb_PanacheSysmon_vs_AtomicRedTeam01.evtx'), { format: 'jsonl', output: jsonl, checksums: true }, new PassThrough(), new PassThrough());
    assert.equal(code, 0);
    const collect = async (options: Parameters<typeof decodeFile>[1]): Promise<WinEvent[]> => {
      const out: WinEvent[] = [];
      for await (const item of decodeFile({ path: jsonl }, options)) if ('event' in item) out.push(item.event);
      return out;
    };
    const full = await collect({});
    const literalsOnly = await collect({ prefilterLiterals: ['zq-no-such-literal-qz'] });
    const withKeep = await collect({ prefilterLiterals: ['zq-no-such-literal-qz'], keepEvents: [{ provider: 'microsoft-windows-sysmon', eventIds: [1] }] });
    const byLine = new Map(withKeep.map((e) => [e.origin.line, e]));
    const sysmon1 = full.filter((e) => isContext(e, CONTEXT) && e.system.eventId === 1);
    assert.ok(sysmon1.length > 0);
    for (const e of sysmon1) assert.deepEqual(byLine.get(e.origin.line), e, `line ${e.origin.line}: Sysmon 1 skipped`);
    // Provider names are searched on raw lines: lines of other providers without a literal are skipped.
    assert.ok(literalsOnly.length <= 1, 'only the first line (always parsed) passes a literal that occurs nowhere');
    // EventIDs are not checked on raw lines: every line naming a kept provider is decoded (all of this file's).
    assert.equal(withKeep.length, full.filter((e) => e.system.provider === 'Microsoft-Windows-Sysmon').length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
