/** Loading rule files and directories: multi-document files, duplicates, filters, unreadable paths. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRules, loadPlaceholders } from '../../src/rules/index.js';

const rule = (id: string, extra = ''): string =>
  `title: Rule ${id}\nid: ${id}\n${extra}logsource: {product: windows, category: process_creation}\ndetection: {s: {Image|endswith: '\\${id}.exe'}, condition: s}\n`;

test('directories are walked recursively; multi-document files give several rules; errors name the document', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'procwatch-load-'));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'a.yml'), rule('a'));
  writeFileSync(join(dir, 'sub', 'b.yaml'), `${rule('b')}---\n${rule('c')}---\ntitle: broken\nid: d\n`);
  writeFileSync(join(dir, 'sub', 'notes.txt'), 'not a rule');
  writeFileSync(join(dir, 'dup.yml'), rule('a'));
  const { rules, errors } = await loadRules({ paths: [dir], builtin: false });
  assert.deepEqual(rules.map((r) => r.meta.id).sort(), ['a', 'b', 'c']);
  assert.equal(errors.length, 2);
  assert.ok(errors.some((e) => e.source === join(dir, 'sub', 'b.yaml (document 3)') && e.ruleId === 'd' && /missing 'logsource'/.test(e.reason)));
  assert.ok(errors.some((e) => e.ruleId === 'a' && /duplicate rule id/.test(e.reason)));
  assert.equal(rules.find((r) => r.meta.id === 'c')!.meta.source, join(dir, 'sub', 'b.yaml'));
});

test('unreadable paths are reported as such', async () => {
  const { rules, errors } = await loadRules({ paths: ['/nonexistent/rules'], builtin: false });
  assert.equal(rules.length, 0);
  assert.equal(errors[0]!.unreadable, true);
  assert.match(errors[0]!.reason, /ENOENT/);
});

test('filters: minimum level, status and tags (exact or prefix)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'procwatch-filter-'));
  writeFileSync(join(dir, 'low.yml'), rule('low', 'level: low\nstatus: test\ntags: [attack.t1105]\n'));
  writeFileSync(join(dir, 'high.yml'), rule('high', 'level: high\nstatus: stable\ntags: [attack.t1218.011]\n'));
  writeFileSync(join(dir, 'none.yml'), rule('none'));
  const ids = async (filter: object): Promise<string[]> =>
    (await loadRules({ paths: [dir], builtin: false, filter })).rules.map((r) => r.meta.id).sort();
  assert.deepEqual(await ids({ minLevel: 'medium' }), ['high']);
  assert.deepEqual(await ids({ statuses: ['test'] }), ['low']);
  assert.deepEqual(await ids({ tags: ['attack.t1218'] }), ['high']);
  assert.deepEqual(await ids({ tags: ['ATTACK.T1105'] }), ['low']);
  assert.deepEqual(await ids({}), ['high', 'low', 'none']);
});

test('a correlation naming rules that are not loaded is rejected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'procwatch-corr-'));
  writeFileSync(join(dir, 'c.yml'), 'title: C\nid: corr\ncorrelation: {type: event_count, rules: [missing_rule], timespan: 5m, condition: {gte: 2}}\n');
  const { rules, errors } = await loadRules({ paths: [dir], builtin: false });
  assert.equal(rules.length, 0);
  assert.match(errors[0]!.reason, /not loaded: missing_rule/);
});

test('placeholder files map names to values', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'procwatch-ph-'));
  writeFileSync(join(dir, 'p.yml'), "'%admins%': [alice, bob]\nservers: srv01\n");
  assert.deepEqual(await loadPlaceholders(join(dir, 'p.yml')), { admins: ['alice', 'bob'], servers: ['srv01'] });
});
