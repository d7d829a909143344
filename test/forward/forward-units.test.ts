/**
 * The parts of forwarding that need no receiver: RFC 5424 formatting (escaping, the message limit, UTF-8-safe
 * truncation, octet-counting framing), the `forward:` config's errors, and the syslog sender's bounds against
 * a TCP peer that closes or stops reading.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeParamValue, formatSyslog, frame, SyslogSender } from '../../src/forward/syslog.js';
import { parseForwards, DEFAULT_SYSLOG_MAX_BYTES } from '../../src/forward/config.js';
import { loadServeConfig } from '../../src/service/config.js';
import { bulkBody, ElasticSender } from '../../src/forward/elastic.js';
import { receiver } from '../server/support/http.js';
import type { ForwardItem } from '../../src/forward/types.js';

const opts = { facility: 16, appName: 'procwatch', hostname: 'pw1', maxMessageBytes: 2048 };
const fields = { alertId: 'abc', ruleId: 'rule-1', severity: 'critical' as const, host: 'WS01', update: false, msg: '{"x":1}' };
const at = new Date('2026-01-02T03:04:05.678Z');

test('RFC 5424 header, structured data and MSG', () => {
  const m = formatSyslog(fields, opts, at).toString('utf8');
  assert.equal(m, `<130>1 2026-01-02T03:04:05.678Z pw1 procwatch ${process.pid} alert [procwatch@32473 alert_id="abc" rule="rule-1" severity="critical" host="WS01"] {"x":1}`);
  assert.match(formatSyslog({ ...fields, update: true, severity: 'informational' }, opts, at).toString(), /^<134>1 \S+ pw1 procwatch \d+ alert-updated \[/);
});

test('SD-PARAM values escape ", \\ and ] (and nothing else)', () => {
  assert.equal(escapeParamValue('a"b\\c]d[e='), 'a\\"b\\\\c\\]d[e=');
  const m = formatSyslog({ ...fields, host: 'evil"] [x y="z' }, opts, at).toString();
  assert.ok(m.includes('host="evil\\"\\] [x y=\\"z"]'), m);
});

test('the message limit holds, MSG cut on a UTF-8 character boundary and marked truncated', () => {
  const msg = JSON.stringify({ text: 'ü€'.repeat(2000) });
  for (const limit of [2048, 2049, 2050, 2051, 4096]) {
    const b = formatSyslog({ ...fields, msg }, { ...opts, maxMessageBytes: limit }, at);
    assert.ok(b.length <= limit && b.length >= limit - 3, `${b.length} within ${limit}`);
    const text = b.toString('utf8');
    assert.ok(!text.includes('\ufffd'), 'no character split');
    assert.ok(text.includes(' truncated="true"]'), 'marked');
  }
  const small = formatSyslog(fields, opts, at).toString();
  assert.ok(!small.includes('truncated'));
  // Long header values are cut so the header always fits the smallest allowed limit.
  for (const filler of ['r', '"', '€']) {
    const long = filler.repeat(5000);
    const huge = formatSyslog({ ...fields, alertId: long, ruleId: long, host: long, msg: 'x'.repeat(5000) }, { ...opts, hostname: 'h'.repeat(255) }, at);
    assert.ok(huge.length <= 2048, `${filler}: ${huge.length}`);
    assert.ok(!huge.toString('utf8').includes('\ufffd'));
  }
});

test('octet-counting framing counts bytes, not characters', () => {
  const m = Buffer.from('<13>1 - - - - - - ü', 'utf8');
  assert.equal(frame(m).toString('utf8'), `${m.length} <13>1 - - - - - - ü`);
  assert.equal(m.length, 20);
});

test('_bulk body: an action line and a source line per alert, newline-terminated', () => {
  const item = (id: string, update: boolean): ForwardItem => ({ alertId: id, ruleId: 'r', severity: 'low', host: 'h', time: 't', update, doc: { event: { id } } });
  assert.equal(
    bulkBody([item('a', false), item('b', true)], 'idx').toString(),
    '{"create":{"_index":"idx","_id":"a"}}\n{"event":{"id":"a"}}\n{"index":{"_index":"idx","_id":"b"}}\n{"event":{"id":"b"}}\n',
  );
});

test('forward config: defaults, and errors that name the destination and key', () => {
  const [d] = parseForwards([{ name: 's', kind: 'syslog', address: 'tcp://127.0.0.1:514' }], '/');
  assert.equal(d!.kind, 'syslog');
  if (d!.kind === 'syslog') {
    assert.equal(d!.syslog.maxMessageBytes, DEFAULT_SYSLOG_MAX_BYTES);
    assert.equal(d!.syslog.facility, 16);
  }
  assert.equal(d!.minSeverity, 'informational');
  assert.equal(d!.includeSuppressed, false);
  assert.deepEqual(d!.retry, { maxAttempts: 8, backoffMs: 1000, maxBackoffMs: 300_000 });
  const bad: [unknown, RegExp][] = [
    [{ name: 's', kind: 'syslog', address: 'udp://h:514' }, /forward\[0\] \(s\)\.address: expected tcp:\/\/host:port or tls:\/\/host:port/],
    [{ name: 's', kind: 'syslog', address: 'tcp://h:514', tls: { verify: false } }, /\(s\)\.tls: TLS options need a tls:\/\/ address/],
    [{ name: 's', kind: 'syslog', address: 'tcp://h:514', facility: 'local9' }, /\(s\)\.facility: expected 0-23 or one of/],
    [{ name: 's', kind: 'syslog', address: 'tcp://h:514', max_message_bytes: 100 }, /max_message_bytes: expected an integer 2048-1048576/],
    [{ name: 's', kind: 'syslog', address: 'tcp://h:514', index: 'x' }, /unknown key "index" for kind syslog/],
    [{ name: 'e', kind: 'elasticsearch', address: 'http://u:p@es:9200' }, /\(e\)\.address: put credentials in/],
    [{ name: 'e', kind: 'elasticsearch', address: 'http://es:9200', index: 'Bad*' }, /\(e\)\.index: expected a lower-case/],
    [{ name: 'e', kind: 'elasticsearch', address: 'http://es:9200', api_key: 'k', username: 'u', password: 'p' }, /api_key or username\/password, not both/],
    [{ name: 'h', kind: 'splunk_hec', address: 'http://s:8088' }, /\(h\)\.token: expected a non-empty string/],
    [{ name: 'h', kind: 'splunk_hec', address: 'http://s:8088', token: 't', alerts: { min_severity: 'severe' } }, /alerts\.min_severity: expected one of/],
    [{ name: 'h', kind: 'splunk_hec', address: 'http://s:8088', token: 't', retry: { max_attempts: 0 } }, /retry\.max_attempts: expected an integer 1-100/],
    [{ name: 'h', kind: 'kafka', address: 'x' }, /\.kind: expected syslog, elasticsearch or splunk_hec/],
    [{ name: 'x', kind: 'syslog', address: 'tls://h:6514', tls: { ca: 'missing.pem' } }, /\(x\)\.tls\.ca: ENOENT/],
  ];
  for (const [entry, re] of bad) assert.throws(() => parseForwards([entry], '/nonexistent'), re, JSON.stringify(entry));
  assert.throws(() => parseForwards([{ name: 'a', kind: 'splunk_hec', address: 'http://s', token: 't' }, { name: 'a', kind: 'splunk_hec', address: 'http://s', token: 't' }], '/'), /duplicate destination name "a"/);
  assert.throws(() => parseForwards({ name: 'a' }, '/'), /forward: expected a list/);
  const many = Array.from({ length: 33 }, (_, i) => ({ name: `d${i}`, kind: 'splunk_hec', address: 'http://s', token: 't' }));
  assert.throws(() => parseForwards(many, '/'), /forward: at most 32 destinations/);
  assert.equal(parseForwards(many.slice(0, 32), '/').length, 32);
});

test('the serve config file takes a forward: list (certificate paths relative to the file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-fwd-cfg-'));
  writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n');
  writeFileSync(join(dir, 'serve.yaml'), 'forward:\n  - name: siem\n    kind: syslog\n    address: tls://siem.example:6514\n    tls: {ca: ca.pem}\n');
  const cfg = loadServeConfig({ config: join(dir, 'serve.yaml') }, {});
  assert.equal(cfg.forwards.length, 1);
  assert.equal(cfg.forwards[0]!.tls?.ca, '-----BEGIN CERTIFICATE-----\n');
});

test('syslog sender: reconnects after the receiver drops the connection; a peer that stops reading times out', async () => {
  const got: string[] = [];
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('data', (b) => got.push(b.toString()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const sender = new SyslogSender({ transport: 'tcp', host: '127.0.0.1', port, ...opts }, undefined, 500);
  const item: ForwardItem = { alertId: 'a', ruleId: 'r', severity: 'low', host: 'h', time: 't', update: false, doc: { big: 'x'.repeat(1000) } };
  assert.deepEqual(await sender.deliver(item), { ok: true });
  sockets[0]!.destroy();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await sender.deliver(item), { ok: true }, 'a new connection');
  assert.equal(sockets.length, 2);

  // The peer stops reading: writes fill the socket buffers, then an attempt times out instead of hanging.
  for (const s of sockets) s.pause();
  const stalled = new SyslogSender({ transport: 'tcp', host: '127.0.0.1', port, ...opts, maxMessageBytes: 1 << 20 }, undefined, 300);
  const bigItem: ForwardItem = { ...item, doc: { big: 'x'.repeat(1 << 20) } };
  let result;
  const started = Date.now();
  for (let i = 0; i < 64; i++) {
    sockets.at(-1)!.pause();
    result = await stalled.deliver(bigItem);
    if (!result.ok) break;
  }
  assert.ok(result && !result.ok && /write timed out after 300 ms/.test(result.error), JSON.stringify(result));
  assert.ok(Date.now() - started < 30_000);
  sender.close();
  stalled.close();
  for (const s of sockets) s.destroy();
  server.close();
  // Nothing listening: a clear error, not a hang.
  const refused = await new SyslogSender({ transport: 'tcp', host: '127.0.0.1', port, ...opts }, undefined, 500).deliver(item);
  assert.ok(!refused.ok && /ECONNREFUSED/.test(refused.error), JSON.stringify(refused));
});

test('an endless or oversized answer is cut at the response cap and the attempt retried, not held in memory', async () => {
  const r = await receiver((_n, _req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(1 << 16, 0x20);
    for (let i = 0; i < 160; i++) res.write(chunk); // 10 MiB of whitespace
    res.end('{}');
  });
  const sender = new ElasticSender({ url: r.url, index: 'i', batchSize: 10, batchBytes: 5 << 20 }, undefined, 5000);
  const item: ForwardItem = { alertId: 'a', ruleId: 'r', severity: 'low', host: 'h', time: 't', update: false, doc: {} };
  const [result] = await sender.send([item]);
  assert.ok(result && !result.ok && !result.final && /not JSON \(too long\)/.test(result.error), JSON.stringify(result));
  await r.close();
});

test('Elasticsearch: alerts handed over together share one _bulk request, up to batch_size', async () => {
  const bodies: string[] = [];
  const r = await receiver((_n, req, res) => {
    bodies.push(req.body);
    const items = req.body.trimEnd().split('\n').filter((_l, i) => i % 2 === 0).map(() => ({ create: { status: 201 } }));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: false, items }));
  });
  const item = (id: string): ForwardItem => ({ alertId: id, ruleId: 'r', severity: 'low', host: 'h', time: 't', update: false, doc: { event: { id } } });
  const three = new ElasticSender({ url: r.url, index: 'i', batchSize: 3, batchBytes: 5 << 20 }, undefined, 5000);
  const results = await Promise.all(['a', 'b', 'c', 'd'].map((id) => three.deliver(item(id))));
  assert.ok(results.every((x) => x.ok));
  assert.deepEqual(bodies.map((b) => b.split('\n').length - 1), [6, 2], 'three alerts, then the fourth');
  await r.close();
});
