/**
 * The EVTX layer's borders, read off the import specifiers of the sources: src/evtx imports nothing outside
 * itself (only its own files and Node built-ins), and every other module reaches src/evtx only through its public
 * surface, src/evtx/index.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';

const SRC = join(REPO_ROOT, 'src');
const EVTX = join(SRC, 'evtx');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Module specifiers of static imports/exports and of dynamic imports of a string literal. */
function specifiers(source: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])([^'"\n]+)\1/gm;
  for (let m = re.exec(source); m; m = re.exec(source)) out.push(m[2]!);
  return out;
}

function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir + sep);
}

test('specifiers() finds static, re-export, side-effect and dynamic imports', () => {
  const src = "import a from './a.js';\nimport type { B } from '../b.js';\nexport { c } from \"./c.js\";\nimport './d.js';\nconst e = await import('./e.js');\n";
  assert.deepEqual(specifiers(src), ['./a.js', '../b.js', './c.js', './d.js', './e.js']);
});

test('src/evtx imports nothing outside itself (own files and node: built-ins only)', () => {
  const files = tsFiles(EVTX);
  assert.ok(files.length > 15, `only ${files.length} files under src/evtx`);
  const outside: string[] = [];
  for (const file of files) {
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('node:')) continue;
      if (spec.startsWith('.') && isInside(resolve(dirname(file), spec), EVTX)) continue;
      outside.push(`${relative(REPO_ROOT, file)}: ${spec}`);
    }
  }
  assert.deepEqual(outside, []);
});

test('modules outside src/evtx use only its public surface (src/evtx/index.ts)', () => {
  const index = join(EVTX, 'index.js');
  const private_: string[] = [];
  let users = 0;
  for (const file of tsFiles(SRC)) {
    if (isInside(file, EVTX)) continue;
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      if (!isInside(target, EVTX)) continue;
      users++;
      if (target !== index) private_.push(`${relative(REPO_ROOT, file)}: ${spec}`);
    }
  }
  assert.ok(users >= 2, 'the decoders and the CLI import src/evtx');
  assert.deepEqual(private_, []);
});

test('no bare catch in the EVTX layer and its decoders: a fast path that gives up names its reason', () => {
  const files = [...tsFiles(EVTX), ...readdirSync(join(SRC, 'formats')).filter((n) => n.startsWith('evtx') && n.endsWith('.ts')).map((n) => join(SRC, 'formats', n))];
  assert.ok(files.some((f) => f.endsWith('evtxFile.ts')), 'the EVTX decoder is among the files checked');
  const bare: string[] = [];
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (/\bcatch\s*\{/.test(line) || /\.catch\(\s*\(\s*\)\s*=>\s*\{\s*\}\s*\)/.test(line)) bare.push(`${relative(REPO_ROOT, file)}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(bare, []);
});
