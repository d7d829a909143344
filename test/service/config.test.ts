import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServeConfig, ConfigError } from '../../src/service/config.js';

function withConfig(yaml: string, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'pw-cfg-'));
  try {
    const p = join(dir, 'serve.yml');
    writeFileSync(p, yaml);
    fn(p);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('config: YAML file, then flags and PROCWATCH_TOKEN on top; relative paths resolve from the file', () => {
  withConfig(
    ['port: 9200', 'data: ./state', 'tokens: [{name: beats, token: "beats-token-1234567890"}]', 'limits: {queue_events: 500}', 'durability: normal',
      'retention: {hours: 1, max_events: 10}', 'rules: {paths: [./rules], builtin: false}',
      'response: {workflows: [{name: h, type: webhook, url: "http://127.0.0.1:1/"}]}'].join('\n'),
    (path) => {
      const c = loadServeConfig({ config: path, port: '7000' }, { PROCWATCH_TOKEN: 'env-token-1234567890' });
      assert.equal(c.port, 7000, 'flag wins');
      assert.equal(c.host, '127.0.0.1', 'loopback by default');
      assert.equal(c.dataDir, join(path, '..', 'state'));
      assert.deepEqual(c.tokens.map((t) => t.name), ['default', 'beats']);
      assert.equal(c.tokens[0]!.token, 'env-token-1234567890');
      assert.equal(c.limits.queueEvents, 500);
      assert.equal(c.durability, 'normal');
      assert.deepEqual(c.retention, { hours: 1, maxEvents: 10 });
      assert.deepEqual(c.rules, { paths: [join(path, '..', 'rules')], builtin: false });
      assert.equal(c.workflows[0]!.name, 'h');
    },
  );
});

test('config errors name the key', () => {
  withConfig('prot: 80\n', (path) => assert.throws(() => loadServeConfig({ config: path }), (e: Error) => e instanceof ConfigError && /unknown key "prot"/.test(e.message)));
  withConfig('limits: {queue_events: -1}\n', (path) => assert.throws(() => loadServeConfig({ config: path }), /limits.queue_events/));
  withConfig('durability: sometimes\n', (path) => assert.throws(() => loadServeConfig({ config: path }), /durability/));
  withConfig('port: [\n', (path) => assert.throws(() => loadServeConfig({ config: path }), ConfigError));
  assert.throws(() => loadServeConfig({ token: 'short' }, {}), /at least 16/);
  assert.throws(() => loadServeConfig({ port: '99999' }, {}), /--port/);
  assert.throws(() => loadServeConfig({ tlsCert: 'a.pem' }, {}), /go together/);
  assert.throws(() => loadServeConfig({ config: '/nonexistent/serve.yml' }, {}), /nonexistent/);
});

test('key filter: never forgets a key, few false positives at capacity, saturation reported', async () => {
  const { KeyFilter } = await import('../../src/service/keyFilter.js');
  const { createHash } = await import('node:crypto');
  const key = (i: number): string => createHash('sha256').update(String(i)).digest('hex').slice(0, 32);
  const f = new KeyFilter(50_000);
  for (let i = 0; i < 50_000; i++) f.add(key(i));
  for (let i = 0; i < 50_000; i++) assert.ok(f.mightHave(key(i)));
  let fp = 0;
  for (let i = 50_000; i < 100_000; i++) if (f.mightHave(key(i))) fp++;
  assert.ok(fp / 50_000 < 0.02, `false-positive rate ${fp / 50_000}`);
  assert.equal(f.saturated, false);
  for (let i = 0; i < 50_001; i++) f.add(key(100_000 + i));
  assert.equal(f.saturated, true);
});
