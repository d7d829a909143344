// @requires corpus
/**
 * Differential: what the fast paths of `scan` produce is what a full decode of every record produces. For every
 * corpus and sample file, `scan --format jsonl` with the default context-preserving prefilter (records no rule
 * and no correlation needs are skipped undecoded) must be byte-identical to `scan --no-prefilter` (every record
 * decoded in full), with and without `--group incidents`. Any shortcut in decoding or in the process index
 * that changes a tree, a lifetime, evidence or an incident shows up here as a differing file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScan, type ScanOptions } from '../../src/cli/scan.js';
import { CORPUS, REPO_ROOT } from '../helpers/paths.js';

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) files(full, out);
    else if (!/\.(tsv|md)$/.test(name)) out.push(full);
  }
  return out;
}

const inputs = [...files(join(CORPUS, 'evtx')), ...files(join(CORPUS, 'formats')), ...files(join(REPO_ROOT, 'samples'))];
const dir = mkdtempSync(join(tmpdir(), 'procwatch-differential-'));

async function scanTo(input: string, name: string, extra: Partial<ScanOptions>): Promise<string> {
  const output = join(dir, name);
  await runScan([input], { format: 'jsonl', output, rules: [], builtin: true, prefilter: true, progress: false, quiet: true, ...extra });
  return readFileSync(output, 'utf8');
}

test('default scan output equals the full decode (--no-prefilter) on every corpus and sample file', async () => {
  assert.ok(inputs.length > 50, `corpus files found (${inputs.length})`);
  let alerting = 0;
  try {
    for (const [i, input] of inputs.entries()) {
      const full = await scanTo(input, `${i}.full`, { prefilter: false });
      assert.equal(await scanTo(input, `${i}.default`, {}), full, `${input}: default scan differs from the full decode`);
      const fullGrouped = await scanTo(input, `${i}.full-incidents`, { prefilter: false, group: 'incidents' });
      assert.equal(await scanTo(input, `${i}.incidents`, { group: 'incidents' }), fullGrouped, `${input}: --group incidents differs from the full decode`);
      if (full.length > 0) alerting++;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The comparison means something only if many files raise alerts with context.
  assert.ok(alerting >= 10, `files with alerts: ${alerting}`);
});
