/**
 * Runs test/**\/*.test.ts with Node's built-in test runner (TypeScript through tsx), in one of two tiers:
 *
 *   npm test             default tier: what needs only the repository and the services this kind of machine
 *                        starts. Tests needing the shared corpus or an absent tool are skipped, each reason
 *                        printed once at the end.
 *   npm run test:full    full tier (CI): everything; a skipped requirement fails the run.
 *
 * Usage: npm test [-- substring-filter ...]   (npm run test:full -- ... as well)
 * A file needing something for all its tests says so in a `// @requires <name> ...` line (see
 * test/helpers/requirements.ts); single tests use `needs(...)` from there.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRequirement, unmet, type Requirement } from '../test/helpers/requirements.js';

const REQUIRES_LINE = /^\/\/ @requires ((?:[\w-]+\s*)+)$/m;

function collect(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...collect(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

function fileRequirements(file: string): Requirement[] {
  const m = REQUIRES_LINE.exec(readFileSync(file, 'utf8'));
  if (!m) return [];
  const names = m[1]!.trim().split(/\s+/);
  for (const n of names) if (!isRequirement(n)) throw new Error(`${file}: unknown requirement '${n}' in its @requires line`);
  return names as Requirement[];
}

const full = process.argv[2] === '--full' || process.env['PROCWATCH_TEST_TIER'] === 'full';
const filters = process.argv.slice(2).filter((a) => a !== '--full');
const files = collect('test').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

const skipped = new Map<string, string[]>(); // reason → files left out
const run: string[] = [];
for (const f of files) {
  const reasons = fileRequirements(f).map(unmet).filter((r): r is string => r !== undefined);
  if (reasons.length === 0 || full) run.push(f);
  for (const r of reasons) skipped.set(r, [...(skipped.get(r) ?? []), f]);
}

const scratch = mkdtempSync(join(tmpdir(), 'procwatch-tests-'));
const skipLog = join(scratch, 'skipped.log');
const env = { ...process.env, PROCWATCH_SKIP_LOG: skipLog, PROCWATCH_TEST_TIER: full ? 'full' : 'default' };
const args = ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...run];
const result = run.length > 0 ? spawnSync(process.execPath, args, { stdio: 'inherit', env }) : { status: 0 };

let logged = '';
try {
  logged = readFileSync(skipLog, 'utf8');
} catch (err) {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // no test logged a skip
}
rmSync(scratch, { recursive: true, force: true });
for (const reason of logged.split('\n').filter(Boolean)) if (!skipped.has(reason)) skipped.set(reason, []);

const tier = full ? 'full tier' : 'default tier';
for (const [reason, left] of skipped) {
  const scope = left.length > 0 ? `${left.length} test file(s) left out` : 'some tests skipped';
  console.log(`${full ? 'missing' : 'skipped'}: ${reason} (${scope}${left.length > 0 ? `: ${left.join(', ')}` : ''})`);
}
if (full && skipped.size > 0) {
  console.log(`${tier}: ${skipped.size} requirement(s) missing; the full tier runs everything (see above)`);
  process.exit(1);
}
if (!full && skipped.size > 0) console.log(`${tier}: ${skipped.size} requirement(s) missing; \`npm run test:full\` needs them all`);
process.exit(result.status ?? 1);
