/**
 * Hostile input against a real `procwatch serve` child: each case states the bound it must stay under
 * (time, the server's peak RSS read from /proc, answers other clients get).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { AUTH } from '../server/support/http.js';
import { benign, ndjson } from '../server/support/events.js';
import { startServe, type ServeChild } from './support/serve.js';

/** 120 MiB of blank lines: compresses to ~120 KB, the shape of the reported bomb. */
function bomb(): Buffer {
  return gzipSync(Buffer.alloc(120 << 20, '\n'), { level: 9 });
}

async function withServer(config: string, run: (s: ServeChild) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-hostile-'));
  writeFileSync(join(dir, 'config.yaml'), config);
  const s = await startServe(['--data', join(dir, 'data'), '--config', join(dir, 'config.yaml')]);
  try {
    await run(s);
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function post(url: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, { method: 'POST', headers: { ...AUTH, ...headers }, body });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

test('compression bombs, 8 in parallel, with and without Content-Encoding: refused, server peak RSS stays under 600 MiB', { timeout: 120_000 }, async () => {
  await withServer('limits: {decompressed_bytes: 33554432, inflight_bytes: 67108864}\n', async (s) => {
    const b = bomb();
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => post(`${s.url}/ingest`, b, i % 2 === 0 ? { 'content-encoding': 'gzip' } : {})),
    );
    const seconds = (performance.now() - started) / 1000;
    for (const a of answers) assert.ok(a.status === 413 || a.status === 429, `bomb answered ${a.status}`);
    assert.ok(answers.some((a) => a.status === 413), 'the inflated-size cap applied with and without the header');
    assert.ok(seconds < 30, `bombs answered in ${seconds.toFixed(1)} s (bound 30 s)`);
    const peak = s.peakRssMiB();
    assert.ok(peak < 600, `server peak RSS ${peak.toFixed(0)} MiB (bound 600 MiB)`);
    // The budget came back: a normal shipper is served.
    const ok = await post(`${s.url}/ingest`, ndjson([benign(1), benign(2)]));
    assert.equal(ok.status, 200);
  });
});

test('gzip body with trailing garbage: the member\'s events are taken and the garbage is reported', { timeout: 60_000 }, async () => {
  await withServer('{}\n', async (s) => {
    const body = Buffer.concat([gzipSync(ndjson([benign(10), benign(11), benign(12)])), Buffer.from('\x00\x01garbage')]);
    for (const headers of [{ 'content-encoding': 'gzip' }, {}] as Record<string, string>[]) {
      const r = await post(`${s.url}/ingest`, body, headers);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(String(r.body.error), /1 document\(s\) malformed and skipped; the other 3 were taken/);
      assert.match(JSON.stringify(r.body.errors), /not gzip; ignored/);
    }
  });
});

test('HEC: an envelope with unbalanced braces does not swallow the good ones after it', { timeout: 60_000 }, async () => {
  await withServer('{}\n', async (s) => {
    const good = (i: number): string => JSON.stringify({ event: benign(i), sourcetype: 'json' });
    const body = `${good(20)}\n{"event": {"broken": {"x": 1}\n${good(21)}\n${good(22)}`;
    const r = await post(`${s.url}/services/collector/event`, body);
    assert.equal(r.status, 400);
    assert.equal(r.body.accepted, 3, JSON.stringify(r.body));
    assert.equal(r.body['invalid-event-number'], 1);
  });
});

test('slow uploads: 9 connections declaring 16 MiB at 1 byte/s do not stop a normal shipper, and are cut off by the rate deadline', { timeout: 60_000 }, async () => {
  await withServer('limits: {body_window_seconds: 3, min_body_bytes: 1024}\n', async (s) => {
    const { hostname, port } = new URL(s.url);
    const slow = Array.from({ length: 9 }, () => {
      const sock = connect(Number(port), hostname);
      let answer = '';
      sock.on('data', (c: Buffer) => (answer += c.toString()));
      sock.on('error', () => undefined); // the server closes these connections; that is the point
      sock.write(`POST /ingest HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTH.authorization}\r\nContent-Length: ${16 << 20}\r\n\r\n`);
      const drip = setInterval(() => sock.write('{'), 1000);
      const closed = new Promise<string>((r) => sock.on('close', () => r(answer)));
      return { sock, drip, closed };
    });
    try {
      await new Promise((r) => setTimeout(r, 500));
      const started = performance.now();
      const r = await post(`${s.url}/ingest`, ndjson([benign(30), benign(31)]));
      const seconds = (performance.now() - started) / 1000;
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(seconds < 2, `normal shipper answered in ${seconds.toFixed(2)} s while 9 slow uploads were open (bound 2 s)`);
      const answers = await Promise.race([Promise.all(slow.map((c) => c.closed)), new Promise<string[]>((r) => setTimeout(() => r([]), 15_000))]);
      assert.equal(answers.length, 9, 'every slow upload was cut off within 15 s');
      for (const a of answers) assert.match(a, /^HTTP\/1.1 408/);
    } finally {
      for (const c of slow) {
        clearInterval(c.drip);
        c.sock.destroy();
      }
    }
  });
});
