#!/usr/bin/env node
// Bundles the web console (web/src, Preact + TypeScript) into dist/console/: app.js, app.css and index.html,
// and the offline scan report's bundle (report.js, report.css) with report-manifest.json holding their
// SHA-256 for the report's CSP (`scan --format html` inlines both and allows exactly these hashes).
// Part of `npm run build` (so `npm ci` produces it through `prepare`); everything is served from the package,
// nothing from a CDN. esbuild does not type-check: `npm run build` runs tsc -p web/tsconfig.json before this.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'console');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(root, 'web', 'src', 'main.tsx'), report: join(root, 'web', 'src', 'report.tsx') },
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

// The report inlines these files: a closing tag inside them would end the element early.
const script = readFileSync(join(out, 'report.js'), 'utf8');
const style = readFileSync(join(out, 'report.css'), 'utf8');
if (/<\/script/i.test(script) || /<!--/.test(script)) throw new Error('report.js contains </script or <!--; it cannot be inlined');
if (/<\/style/i.test(style)) throw new Error('report.css contains </style; it cannot be inlined');
const sha256 = (s) => createHash('sha256').update(s, 'utf8').digest('base64');
writeFileSync(join(out, 'report-manifest.json'), `${JSON.stringify({ script_sha256: sha256(script), style_sha256: sha256(style) }, null, 2)}\n`);
