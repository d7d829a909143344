/**
 * `rules validate` over SigmaHQ's whole rules/windows tree: every rule loads and can run. A rule that
 * cannot is a failure with its reason. Also pins the command's exit codes.
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORPUS } from '../helpers/paths.js';
import { validateRules } from '../../src/cli/rules.js';
import { main } from '../../src/cli/main.js';

const windows = join(CORPUS, 'sigma', 'rules', 'windows');

function countYaml(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) n += countYaml(full);
    else if (/\.ya?ml$/.test(name)) n++;
  }
  return n;
}

test('every rule in SigmaHQ rules/windows loads and can run', async () => {
  const report = await validateRules([windows]);
  const problems = [
    ...report.loaded.errors.map((e) => `${e.source}: ${e.reason}`),
    ...report.cannotRun.map((w) => `${w.source}: ${w.message}`),
  ];
  assert.deepEqual(problems, []);
  const files = countYaml(windows);
  assert.ok(files > 2000, `rules in corpus: ${files}`);
  assert.equal(report.loaded.rules.length, files, 'one rule per file, all loaded');
  // Warnings are allowed (fields some rules use that Sysmon does not log) but must name rule and field.
  for (const w of report.warnings) assert.match(w.message, /field '.+' is unknown/);
});

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await main(['node', 'procwatch', ...args]), out };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

test('rules validate: exit 0 when all load, 1 when any is rejected (with the reason), 2 for unreadable paths', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'procwatch-rules-'));
  const good = 'title: Good\nid: good\nlogsource: {product: windows, category: process_creation}\ndetection: {s: {Image|endswith: x.exe}, condition: s}\n';
  writeFileSync(join(dir, 'good.yml'), good);
  let r = await run(['rules', 'validate', dir]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /OK .*good/);
  writeFileSync(join(dir, 'bad.yml'), good.replace('id: good', 'id: bad').replace('endswith', 'endwith'));
  writeFileSync(join(dir, 'linux.yml'), good.replace('id: good', 'id: lin').replace('windows', 'linux'));
  r = await run(['rules', 'validate', dir]);
  assert.equal(r.code, 1);
  assert.match(r.out, /REJECTED .*bad\.yml: bad: detection\.s\.Image\|endwith: unknown modifier 'endwith'/);
  assert.match(r.out, /REJECTED .*linux\.yml: lin: unsupported log source/);
  r = await run(['rules', 'validate', join(dir, 'missing')]);
  assert.equal(r.code, 2);
  r = await run(['rules', 'list', '--rules', join(dir, 'good.yml'), '--format', 'json']);
  assert.equal(r.code, 0);
  const listed = JSON.parse(r.out.slice(r.out.indexOf('['), r.out.lastIndexOf(']') + 1)) as Array<{ id: string; attack: string[]; source: string }>;
  const ids = listed.map((x) => x.id);
  assert.ok(ids.includes('certreq-download-upload') && ids.includes('good'), ids.join(','));
  assert.deepEqual(listed.find((x) => x.id === 'certreq-download-upload')!.attack, ['defense-evasion', 'T1027']);
  assert.equal(listed.find((x) => x.id === 'good')!.source, join(dir, 'good.yml'));
  r = await run(['rules', 'list', '--no-builtin', '--rules', join(dir, 'good.yml'), '--format', 'json']);
  assert.deepEqual((JSON.parse(r.out) as Array<{ id: string }>).map((x) => x.id), ['good']);
});
