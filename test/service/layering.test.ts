/**
 * The import direction between the service core and its front ends: src/server (HTTP) and src/distribute
 * (NATS) use the core (src/service) and never each other; the core imports neither of them nor the commands;
 * src/evtx imports nothing outside itself. Read from the import statements of the sources themselves
 * (static, re-exports, side-effect and dynamic imports), so a new file is checked without being listed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** The folders each front end must not import (a relative import resolving into one of them is a violation). */
const FORBIDDEN: Record<string, readonly string[]> = {
  server: ['distribute', 'cli'],
  distribute: ['server', 'cli'],
  service: ['server', 'distribute', 'cli'],
  // The pipeline's stages below the service: no HTTP, NATS, service or command code.
  output: ['server', 'distribute', 'service', 'cli'],
  engine: ['server', 'distribute', 'service', 'cli'],
  correlate: ['server', 'distribute', 'service', 'cli'],
  enrich: ['server', 'distribute', 'service', 'cli'],
};

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sources(full));
    else if (name.endsWith('.ts')) out.push(full);
  }
  return out;
}

/** Module specifiers of a TypeScript source: `import … from`, `export … from`, `import '…'`, `import('…')`. */
export function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  const patterns = [/\b(?:import|export)\s[^;'"]*?\bfrom\s*(['"])([^'"]+)\1/g, /\bimport\s*(['"])([^'"]+)\1/g, /\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[2]!);
  return out;
}

/** The top folder under src/ a relative specifier of `file` lands in (`pipeline.ts` for a file at the top). */
function landsIn(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const target = relative(SRC, resolve(dirname(file), spec));
  if (target.startsWith('..')) return '(outside src)';
  return target.split(sep)[0];
}

function violations(folder: string, allowed: (top: string) => boolean): string[] {
  const out: string[] = [];
  for (const file of sources(join(SRC, folder))) {
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      const top = landsIn(file, spec);
      if (top !== undefined && !allowed(top)) out.push(`${relative(SRC, file)} imports ${spec}`);
    }
  }
  return out;
}

test('the import scanner sees every form of import, and not commented-out ones', () => {
  const text = [
    "import { a } from '../server/app.js';",
    "import type {\n  B,\n  C,\n} from \"../distribute/worker.js\";",
    "export { d } from './d.js';",
    "import './side-effect.js';",
    "const m = await import('../cli/main.js');",
    "// import { gone } from '../server/gone.js';",
    '/* import { gone2 } from "../server/gone2.js"; */',
    "const s = 'not an import from ../server/x.js';",
  ].join('\n');
  assert.deepEqual(specifiers(text).sort(), ['../cli/main.js', '../distribute/worker.js', '../server/app.js', './d.js', './side-effect.js']);
});

for (const [folder, forbidden] of Object.entries(FORBIDDEN)) {
  test(`src/${folder} imports none of ${forbidden.map((f) => `src/${f}`).join(', ')}`, () => {
    const files = sources(join(SRC, folder));
    assert.ok(files.length > 0, `src/${folder} has sources`);
    assert.deepEqual(violations(folder, (top) => !forbidden.includes(top)), []);
  });
}

test('src/evtx imports nothing outside itself', () => {
  assert.deepEqual(violations('evtx', (top) => top === 'evtx'), []);
});
