// One ConfigError for every configuration: the service's YAML (and the workflows and forwards in it), triage
// files, command-line options. Each loader's error is that one class, located where the loader knows the place,
// and the commands answer it with the usage exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/configError.js';
import { ConfigError as ServeConfigError, loadServeConfig } from '../../src/service/config.js';
import { ConfigError as CorrelateConfigError } from '../../src/correlate/index.js';
import { ConfigError as RespondConfigError, parseWorkflows } from '../../src/respond/index.js';
import { parseTriageConfig, loadTriageConfig } from '../../src/triage/config.js';
import { runCli } from '../helpers/cli.js';

function caught(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('no error thrown');
}

function withDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-config-'));
  return Promise.resolve(fn(dir)).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('every module that exports ConfigError exports the one class', () => {
  assert.equal(ServeConfigError, ConfigError);
  assert.equal(CorrelateConfigError, ConfigError);
  assert.equal(RespondConfigError, ConfigError);
});

test('a triage file error names the file and the key, as fields and in the message', () => {
  const e = caught(() => parseTriageConfig({ incidents: { gap: 'soon' } }, 'tuning.yml'));
  assert.equal(e.file, 'tuning.yml');
  assert.match(e.at ?? '', /^incidents\.gap/);
  assert.equal(e.message, `tuning.yml: ${e.at}: ${e.reason}`);
  assert.equal(e.name, 'ConfigError');
});

test('a workflow error (no file known) keeps its key path; inside a service config it is located in that file', () =>
  withDir((dir) => {
    const bare = caught(() => parseWorkflows([{ name: 'x', type: 'webhook', url: 'ftp://nope' }]));
    assert.equal(bare.file, undefined);
    assert.match(bare.message, /\(x\)\.url/);
    const path = join(dir, 'serve.yml');
    writeFileSync(path, 'response:\n  - name: x\n    type: webhook\n    url: ftp://nope\n');
    const inFile = caught(() => loadServeConfig({ config: path }, {}));
    assert.equal(inFile.file, path);
    assert.ok(inFile.message.startsWith(`${path}: `), inFile.message);
    assert.match(inFile.message, /\(x\)\.url/);
  }));

test('unreadable and malformed files are ConfigErrors naming the file', () =>
  withDir((dir) => {
    const missing = join(dir, 'nope.yml');
    assert.equal(caught(() => loadTriageConfig(missing)).file, missing);
    assert.equal(caught(() => loadServeConfig({ config: missing }, {})).file, missing);
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'port: [\n');
    const e = caught(() => loadServeConfig({ config: bad }, {}));
    assert.equal(e.file, bad);
  }));

test('the commands answer a bad configuration with the usage exit code and the located message', () =>
  withDir(async (dir) => {
    const serveYml = join(dir, 'serve.yml');
    writeFileSync(serveYml, 'prot: 80\n');
    const serve = await runCli(['serve', '--config', serveYml, '--data', join(dir, 'data')]);
    assert.equal(serve.code, 2, serve.stderr);
    assert.equal(serve.stderr, `procwatch serve: ${serveYml}: config: unknown key "prot"\n`);
    const tuning = join(dir, 'tuning.yml');
    writeFileSync(tuning, 'incidents:\n  gap: soon\n');
    const scan = await runCli(['scan', 'samples', '-f', 'jsonl', '--config', tuning]);
    assert.equal(scan.code, 2, scan.stderr);
    assert.match(scan.stderr, new RegExp(`^procwatch scan: ${tuning.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: incidents\\.gap`));
  }));
