/**
 * A run's fixed cost: the CLI loads only the command it runs (and the alert view it writes), so `dump` never
 * loads the rule engine or YAML and `scan -f jsonl` never loads the server or the table's width arithmetic.
 * Checked by the modules actually loaded (a module loader hook logs them); help still lists every command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';

// The bundled sample: the default tier runs this without the shared corpus.
const SMALL = join(REPO_ROOT, 'samples', 'sysmon-ws05.evtx');

/** Runs the CLI from the sources with a loader hook that lists every module it loads. */
async function loadedModules(args: string[]): Promise<{ code: number | null; modules: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'procwatch-startup-'));
  try {
    writeFileSync(join(dir, 'hook.mjs'), "export async function load(url, ctx, next) { if (url.startsWith('file:')) process.stderr.write('LOADED ' + url + '\\n'); return next(url, ctx); }\n");
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)});\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(join(dir, 'register.mjs')).href, join(REPO_ROOT, 'test', 'helpers', 'cli-entry.ts'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const modules = err.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => l.slice('LOADED '.length));
    return { code, modules };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const under = (modules: string[], part: string): string[] => modules.filter((m) => m.includes(part));

test('dump loads neither the rule engine, correlation, YAML nor the server', async () => {
  const { code, modules } = await loadedModules(['dump', SMALL, '-o', '/dev/null']);
  assert.equal(code, 0);
  assert.ok(under(modules, '/src/evtx/').length > 5, 'the hook sees the modules loaded (the EVTX parser is among them)');
  for (const part of ['/src/rules/', '/src/engine/', '/src/correlate/', '/src/server/', '/node_modules/yaml/', '/node_modules/string-width/']) {
    assert.deepEqual(under(modules, part), [], `dump loaded ${part}`);
  }
});

test('scan -f jsonl loads neither the server nor the table view', async () => {
  const { code, modules } = await loadedModules(['scan', SMALL, '-f', 'jsonl', '-o', '/dev/null', '--no-progress']);
  assert.ok(code === 0 || code === 1, `exit ${code}`);
  assert.ok(under(modules, '/src/engine/').length > 0, 'the rule engine is loaded');
  assert.ok(under(modules, '/node_modules/yaml/').length > 0, 'YAML (the built-in rules) is seen loading: the hook sees packages');
  for (const part of ['/src/server/', '/src/store/', '/src/output/table', '/src/output/html', '/node_modules/string-width/']) {
    assert.deepEqual(under(modules, part), [], `scan loaded ${part}`);
  }
});

test('help still lists every command; a mistyped command gets a suggestion; --version answers', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  for (const name of ['scan', 'dump', 'rules', 'serve', 'worker', 'token', 'policy']) assert.match(help.stdout, new RegExp(`^\\s+${name}\\b`, 'm'), `help lists ${name}`);
  const typo = await runCli(['dmup', SMALL]);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /Did you mean dump\?/);
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  const dumpHelp = await runCli(['dump', '--help']);
  assert.equal(dumpHelp.code, 0);
  assert.match(dumpHelp.stdout, /paths\.\.\./);
});
