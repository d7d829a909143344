/** Builds engines from inline Sigma YAML for tests. */
import assert from 'node:assert/strict';
import { parseRuleFile, type ParseOptions } from '../../../src/rules/load.js';
import type { LoadedRule } from '../../../src/rules/index.js';
import { compileEngine, type CompiledEngine } from '../../../src/engine/index.js';
import type { WinEvent } from '../../../src/model/event.js';

export function loadInline(yaml: string, options: ParseOptions = {}): LoadedRule[] {
  const parsed = parseRuleFile(yaml, 'inline.yml', options);
  assert.deepEqual(parsed.errors, [], 'rule loads');
  return parsed.rules.map((rule) => ({ meta: rule.meta, rule }));
}

export function engineFor(yaml: string, options: ParseOptions = {}): CompiledEngine {
  return compileEngine(loadInline(yaml, options));
}

/** A process_creation rule with the given detection body (YAML, indented 4). */
export function procRule(detection: string, id = 'test-rule'): string {
  return `title: Test
id: ${id}
logsource:
    product: windows
    category: process_creation
detection:
${detection}
level: medium
`;
}

export function matches(engine: CompiledEngine, ev: WinEvent): boolean {
  return engine.match(ev).length > 0;
}

/** The load error reason for an inline rule expected to be rejected. */
export function loadError(yaml: string, options: ParseOptions = {}): string {
  const parsed = parseRuleFile(yaml, 'inline.yml', options);
  assert.equal(parsed.rules.length, 0, 'rule is rejected');
  assert.equal(parsed.errors.length, 1);
  return parsed.errors[0]!.reason;
}
