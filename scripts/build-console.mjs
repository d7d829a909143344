#!/usr/bin/env node
// Bundles the web console (web/src, Preact + TypeScript) into dist/console/: app.js, app.css and index.html.
// Part of `npm run build` (so `npm ci` produces it through `prepare`); everything is served from the package,
// nothing from a CDN. esbuild does not type-check: `npm run build` runs tsc -p web/tsconfig.json before this.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'console');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(root, 'web', 'src', 'main.tsx') },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
for (const name of ['index.html', 'favicon.svg']) copyFileSync(join(root, 'web', name), join(out, name));
