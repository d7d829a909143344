/**
 * ../shared/corpus/certreq/commands.tsv: every row as a Sysmon EID 1 event and as a Security 4688 event.
 * The built-in rule must fire exactly when the published criteria hold; the expectation is computed here,
 * independently of the engine (the file's `label` column is the Sigma view, not ours).
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS } from '../helpers/paths.js';
import { loadRules } from '../../src/rules/index.js';
import { compileEngine } from '../../src/engine/index.js';
import { security4688, sysmon1 } from '../engine/support/events.js';

const corpus = join(CORPUS, 'certreq', 'commands.tsv');
const [header, ...lines] = readFileSync(corpus, 'utf8').split(/\r?\n/).filter((l) => l !== '');
const columns = header!.split('\t');
const rows = lines.map((line, i) => {
  const cells = line.split('\t');
  const get = (name: string): string => cells[columns.indexOf(name)] ?? '';
  return { line: i + 2, commandLine: get('command_line'), image: get('image'), originalFileName: get('original_file_name') };
});

/** The rule as published, evaluated directly. */
function criteria(originalFileName: string | undefined, commandLine: string | undefined): boolean {
  const ofn = originalFileName !== undefined && originalFileName.toLowerCase().includes('certreq');
  const cmd = commandLine?.toLowerCase();
  return ofn || (cmd !== undefined && ['post', 'config', 'http', 'win.ini'].every((w) => cmd.includes(w)));
}

const { rules } = await loadRules({ paths: [] });
const engine = compileEngine(rules);
const fires = (ev: ReturnType<typeof sysmon1>): boolean => engine.match(ev).some((d) => d.rule.id === 'certreq-download-upload');

test('the corpus is there and exercises both outcomes on both event types', () => {
  assert.ok(rows.length >= 80, `rows: ${rows.length}`);
  assert.ok(columns.includes('command_line') && columns.includes('original_file_name'));
  const sysmonYes = rows.filter((r) => criteria(r.originalFileName || undefined, r.commandLine)).length;
  const secYes = rows.filter((r) => criteria(undefined, r.commandLine)).length;
  assert.ok(sysmonYes > 0 && sysmonYes < rows.length);
  assert.ok(secYes > 0 && secYes < rows.length);
});

test('Sysmon EID 1: fires exactly when the criteria hold', () => {
  for (const r of rows) {
    const ofn = r.originalFileName === '' ? undefined : r.originalFileName;
    const expected = criteria(ofn, r.commandLine);
    assert.equal(fires(sysmon1(r.image, ofn, r.commandLine)), expected, `commands.tsv:${r.line}: ${r.commandLine}`);
  }
});

test('Security 4688 (no OriginalFileName): fires exactly when the command-line criteria hold', () => {
  for (const r of rows) {
    const expected = criteria(undefined, r.commandLine);
    assert.equal(fires(security4688(r.image, r.commandLine)), expected, `commands.tsv:${r.line}: ${r.commandLine}`);
  }
});
