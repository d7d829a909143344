/**
 * `procwatch dump` over several paths and directories: files in argument order, directories walked recursively in
 * code-point order (as scan walks them), files found there that are not EVTX skipped with a word on stderr, and
 * one output document over all files.
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { dumpEvtx } from '../../src/cli/dump.js';
import { CORPUS } from '../helpers/paths.js';

const CRATE = join(CORPUS, 'evtx', 'evtx-crate');
const A = join(CRATE, 'new-user-security.evtx');
const B = join(CRATE, 'security.evtx');
const C = join(CRATE, 'system.evtx');

async function run(paths: string | string[], format: 'jsonl' | 'json' | 'xml' = 'jsonl'): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await dumpEvtx(paths, { format, checksums: true, threads: 1 }, stdout, stderr);
  return { code, out, err };
}

function tree(): string {
  // b/ sorts after a.evtx, Z before a (code points, not the locale); notes.txt is not EVTX.
  const dir = mkdtempSync(join(tmpdir(), 'procwatch-dump-'));
  mkdirSync(join(dir, 'b'));
  copyFileSync(A, join(dir, 'a.evtx'));
  copyFileSync(B, join(dir, 'b', 'inner.evtx'));
  copyFileSync(C, join(dir, 'Z.log'));
  writeFileSync(join(dir, 'notes.txt'), 'not an event log\n');
  return dir;
}

test('dump of a directory is the dumps of its EVTX files, in code-point order; other files are skipped and said so', async () => {
  const dir = tree();
  try {
    const [a, b, c] = [await run(A), await run(B), await run(C)];
    const all = await run(dir);
    assert.equal(all.code, 0);
    assert.equal(all.out, c.out + a.out + b.out, 'Z.log, a.evtx, b/inner.evtx');
    assert.match(all.err, /skipped 1 file that is not EVTX/);
    assert.ok(all.out.length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dump takes several paths in argument order; json is one array over all files', async () => {
  const [a, c] = [await run(A, 'json'), await run(C, 'json')];
  const both = await run([C, A], 'json');
  assert.equal(both.code, 0);
  const whole = JSON.parse(both.out) as unknown[];
  assert.deepEqual(whole, [...(JSON.parse(c.out) as unknown[]), ...(JSON.parse(a.out) as unknown[])]);
  const xml = await run([A, C], 'xml');
  assert.equal((xml.out.match(/<Events>/g) ?? []).length, 1);
  assert.equal((xml.out.match(/<Event /g) ?? []).length, whole.length);
});

test('a path that cannot be read is reported with exit 2; the others are still dumped', async () => {
  const a = await run(A);
  const r = await run([join(CRATE, 'no-such-file.evtx'), A]);
  assert.equal(r.code, 2);
  assert.equal(r.out, a.out);
  assert.match(r.err, /no-such-file\.evtx: no such file or directory/);
  const named = tree();
  try {
    // A file named on the command line is dumped whatever it holds: not EVTX is an error (exit 2), not a skip.
    const notEvtx = await run(join(named, 'notes.txt'));
    assert.equal(notEvtx.code, 2);
    assert.equal(notEvtx.out, '');
  } finally {
    rmSync(named, { recursive: true, force: true });
  }
});
