/**
 * The documentation is correct where a machine can tell: every relative link of README.md, CHANGELOG.md and
 * docs/**\/*.md reaches a file (and its `#anchor` a heading of that file), and the `procwatch …` commands shown in
 * the `sh` blocks of README.md and docs/user/*.md run with the exit code the documentation states.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { fullTier, needs } from '../helpers/requirements.js';
import { anchors, documentationFiles, isExternal, links, shownCommands, slug, shellWords, type ShownCommand } from './markdown.js';

const rel = (f: string): string => relative(REPO_ROOT, f);

test('markdown helpers: GitHub slugs, repeated headings, links outside code, shell words', () => {
  assert.equal(slug('Service file (`serve --config`, `worker --config`)'), 'service-file-serve---config-worker---config');
  assert.equal(slug("EVTX: procwatch's own binary event-log parser"), 'evtx-procwatchs-own-binary-event-log-parser');
  assert.equal(slug('`procwatch serve` — live detection service'), 'procwatch-serve--live-detection-service');
  assert.equal(slug('Keeping context events (`keepEvents`)'), 'keeping-context-events-keepevents');
  assert.deepEqual([...anchors('# A\n## Speed\n```sh\n## not a heading\n```\n## Speed\n## Speed')], ['a', 'speed', 'speed-1', 'speed-2']);
  assert.deepEqual(
    links('see [a](x.md#y) and `[b](not-a-link.md)`\n```\n[c](in-code.md)\n```\n[d](<z.md> "title")').map((l) => l.target),
    ['x.md#y', 'z.md'],
  );
  assert.deepEqual(shellWords(`scan samples/ -r "a b" --tags 'x y'`), ['scan', 'samples/', '-r', 'a b', '--tags', 'x y']);
  assert.ok(!Array.isArray(shellWords('scan samples/ | head')));
  assert.ok(!Array.isArray(shellWords('scan - < file.xml')));
});

// ---- links --------------------------------------------------------------------------------------------------

const anchorCache = new Map<string, Set<string>>();
function anchorsOf(file: string): Set<string> {
  let a = anchorCache.get(file);
  if (!a) {
    a = anchors(readFileSync(file, 'utf8'));
    anchorCache.set(file, a);
  }
  return a;
}

/** Why a link is broken, or undefined when it resolves. */
function brokenReason(fromFile: string, target: string): string | undefined {
  const hash = target.indexOf('#');
  const pathPart = decodeURI(hash >= 0 ? target.slice(0, hash) : target);
  const anchor = hash >= 0 ? decodeURIComponent(target.slice(hash + 1)) : undefined;
  const file = pathPart === '' ? fromFile : resolve(dirname(fromFile), pathPart);
  if (!existsSync(file)) return `no such file ${rel(file)}`;
  if (anchor === undefined || anchor === '') return undefined;
  if (statSync(file).isDirectory() || !file.endsWith('.md')) return `#${anchor}: ${rel(file)} is not a Markdown file`;
  return anchorsOf(file).has(anchor) ? undefined : `no heading with anchor #${anchor} in ${rel(file)}`;
}

const docFiles = documentationFiles(REPO_ROOT);

test('the documentation files exist: front page, changelog, index', () => {
  for (const f of ['README.md', 'CHANGELOG.md', 'docs/README.md']) assert.ok(existsSync(join(REPO_ROOT, f)), f);
  assert.ok(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').split('\n').length <= 200, 'README.md is the front page: at most 200 lines');
});

test('every document is listed in the documentation index', () => {
  const index = join(REPO_ROOT, 'docs', 'README.md');
  const listed = new Set(links(readFileSync(index, 'utf8')).filter((l) => !isExternal(l.target)).map((l) => resolve(dirname(index), l.target.split('#')[0]!)));
  const missing = docFiles.filter((f) => f !== index && !listed.has(f) && f.startsWith(join(REPO_ROOT, 'docs')));
  assert.deepEqual(missing.map(rel), [], 'documents not listed in docs/README.md');
});

for (const file of docFiles) {
  test(`links of ${rel(file)} resolve`, () => {
    const broken = links(readFileSync(file, 'utf8'))
      .filter((l) => !isExternal(l.target))
      .map((l) => ({ ...l, reason: brokenReason(file, l.target) }))
      .filter((l) => l.reason !== undefined)
      .map((l) => `${rel(file)}:${l.line}: (${l.target}) ${l.reason}`);
    assert.deepEqual(broken, []);
  });
}

// ---- commands -----------------------------------------------------------------------------------------------

const commandFiles = [join(REPO_ROOT, 'README.md'), ...docFiles.filter((f) => dirname(f) === join(REPO_ROOT, 'docs', 'user'))];

/**
 * Commands that cannot run in a unit test, with the reason the test reports. Anything else must run: a command
 * this test cannot classify fails, so the documentation keeps showing commands someone can check.
 */
function skipReason(cmd: ShownCommand): string | undefined {
  const sub = cmd.args[0];
  const help = cmd.args.includes('--help') || cmd.args.includes('-h');
  if (sub === 'serve' && !help) return 'starts the long-running HTTP service (test/server covers it)';
  if (sub === 'worker' && !help) return 'starts a long-running worker that needs PostgreSQL and NATS (test/scale covers it)';
  // The corpus commands (whole SigmaHQ trees among them) take tens of seconds: they run in the full tier.
  if (corpusPaths(cmd).length > 0) return needs('corpus').skip ?? (fullTier() ? undefined : 'reads the shared corpus: runs in the full tier (npm run test:full)');
  return undefined;
}

/** Arguments naming something in the shared corpus. */
function corpusPaths(cmd: ShownCommand): string[] {
  return cmd.args.filter((a) => a.startsWith('../shared/corpus'));
}

/** `-o FILE` goes to a temporary directory, so running the documentation leaves the repository clean. */
function withOutputsIn(dir: string, args: string[]): { args: string[]; outputs: string[] } {
  const outputs: string[] = [];
  const mapped = args.map((a, i) => {
    const prev = args[i - 1];
    if (prev === '-o' || prev === '--output') {
      const out = join(dir, basename(a));
      outputs.push(out);
      return out;
    }
    return a;
  });
  return { args: mapped, outputs };
}

const shown = commandFiles.flatMap((f) => shownCommands(readFileSync(f, 'utf8'), rel(f)));
const runnable = shown.filter((c): c is ShownCommand => 'args' in c);

test('commands are shown in the documentation (the extraction finds them)', () => {
  for (const sub of ['scan', 'rules', 'dump', 'serve']) assert.ok(runnable.some((c) => c.args[0] === sub), `a ${sub} command is shown`);
  const unsupported = shown.filter((c) => !('args' in c)).map((c) => `${c.file}:${c.line}: ${c.text}`);
  assert.deepEqual(unsupported, [], 'command lines with shell syntax this test cannot run: show them without it or outside an sh block');
});

test('the corpus paths the documentation names exist (when the corpus is here)', needs('corpus'), () => {
  const missing = runnable.flatMap((c) => corpusPaths(c).filter((p) => !existsSync(resolve(REPO_ROOT, p))).map((p) => `${c.file}:${c.line}: ${p}`));
  assert.deepEqual(missing, []);
});

// The same command shown in two documents runs once; two at a time (each is a Node process with tsx).
const unique = [...runnable.reduce((m, c) => (m.has(c.args.join('\0')) ? m : m.set(c.args.join('\0'), c)), new Map<string, ShownCommand>()).values()];
describe('the commands shown in README.md and docs/user/*.md run', { concurrency: 2 }, () => {
  for (const c of unique) {
    it(`${c.file}:${c.line}: ${c.text}`, { skip: skipReason(c) ?? false }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'procwatch-docs-'));
      try {
        const { args, outputs } = withOutputsIn(dir, c.args);
        const r = await runCli(args);
        assert.equal(r.code, c.expectedExit, `exit ${r.code}, documented ${c.expectedExit}\n${r.stderr.slice(0, 2000)}`);
        for (const out of outputs) assert.ok(existsSync(out) && statSync(out).size > 0, `${basename(out)} written`);
        if (args.includes('--help')) assert.match(r.stdout, /^Usage: procwatch/m);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
