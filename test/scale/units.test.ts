// The pure parts of scale-out: partitioning, message encoding, configuration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePartitionList, partitionOf } from '../../src/distribute/partition.js';
import { decodeBatch, encodeBatches, EventTooLargeError } from '../../src/distribute/codec.js';
import { loadServeConfig } from '../../src/service/config.js';
import { parsePostgresUrl } from '../../src/store/postgres.js';
import type { WinEvent } from '../../src/model/event.js';

function winEvent(host: string, recordId: number, commandLine = 'notepad.exe'): WinEvent {
  return {
    system: { provider: 'Microsoft-Windows-Sysmon', eventId: 1, channel: 'Microsoft-Windows-Sysmon/Operational', computer: host, recordId, timeCreated: '2024-05-01T10:00:00.000Z' },
    data: { CommandLine: commandLine },
  } as unknown as WinEvent;
}

test('a host always maps to the same partition, case-insensitively, and hosts spread over partitions', () => {
  assert.equal(partitionOf('WS01.corp.example', 8), partitionOf('ws01.CORP.example', 8));
  // FNV-1a is fixed: these values must never change, or hosts would move between partitions on upgrade.
  assert.deepEqual(['a', 'WS01', 'dc01.corp.example'].map((h) => partitionOf(h, 1024)), [0xe40c292c % 1024, partitionOf('ws01', 1024), partitionOf('DC01.CORP.EXAMPLE', 1024)]);
  const counts = new Array<number>(8).fill(0);
  for (let i = 0; i < 4000; i++) counts[partitionOf(`host-${i}.corp.example`, 8)]!++;
  assert.ok(counts.every((n) => n > 350 && n < 650), `roughly even: ${counts.join(',')}`);
});

test('partition lists take numbers and ranges within the stream and refuse the rest', () => {
  assert.deepEqual(parsePartitionList('0,2-4, 7', 8), [0, 2, 3, 4, 7]);
  assert.throws(() => parsePartitionList('8', 8), /8 is out of range \(the stream has 8 partitions: 0-7\)/);
  assert.throws(() => parsePartitionList('3-1', 8), /empty range/);
  assert.throws(() => parsePartitionList('x', 8), /"x" is not a number/);
  assert.throws(() => parsePartitionList('', 8), /at least one/);
});

test('batches split under the message limit and decode back to the same events', () => {
  const events = Array.from({ length: 50 }, (_, i) => winEvent(`H${i % 3}`, i, `cmd ${'x'.repeat(i * 10)} é`));
  const bodies = encodeBatches(events, 2000);
  assert.ok(bodies.length > 1);
  assert.ok(bodies.every((b) => b.length <= 2000));
  assert.deepEqual(bodies.flatMap((b) => decodeBatch(b)), JSON.parse(JSON.stringify(events)));
  assert.throws(() => encodeBatches([winEvent('H', 1, 'y'.repeat(5000))], 2000), EventTooLargeError);
  assert.throws(() => decodeBatch(Buffer.from('{"system":{}}\n{oops\n')), /message line 2/);
  assert.throws(() => decodeBatch(Buffer.from('[1]\n')), /message line 1: not a WinEvent/);
});

test('store and nats settings from the YAML config and flags; errors name the key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-scfg-'));
  try {
    const file = join(dir, 'serve.yml');
    writeFileSync(file, 'store: { url: "postgres://pw@db:5432/siem", schema: soc }\nnats: { url: "nats://mq:4222", stream: pw_events, partitions: 16, ack_wait_ms: 5000 }\n');
    const cfg = loadServeConfig({ config: file }, {});
    assert.deepEqual(cfg.store, { url: 'postgres://pw@db:5432/siem', schema: 'soc' });
    assert.deepEqual(cfg.nats, { url: 'nats://mq:4222', stream: 'pw_events', partitions: 16, ackWaitMs: 5000, maxBytes: -1 });
    const flags = loadServeConfig({ config: file, nats: 'nats://other:4222', natsStream: 'S2', partitionCount: '4' }, {});
    assert.deepEqual([flags.nats?.url, flags.nats?.stream, flags.nats?.partitions], ['nats://other:4222', 'S2', 4]);
    assert.equal(loadServeConfig({}, {}).store, undefined, 'SQLite stays the default');
    const bad = (yaml: string): void => {
      writeFileSync(file, yaml);
      loadServeConfig({ config: file }, {});
    };
    assert.throws(() => bad('store: { url: "mysql://x/y" }\n'), /store.url: expected a postgres:\/\//);
    assert.throws(() => bad('store: { url: "postgres://x/y", schema: "Bad-Name" }\n'), /store.schema/);
    assert.throws(() => bad('nats: { url: "nats://x:4222", partitons: 4 }\n'), /nats: unknown key "partitons"/);
    assert.throws(() => bad('nats: { url: "nats://x:4222" }\n'), /--nats needs the shared store/);
    assert.throws(() => loadServeConfig({ natsStream: 'x' }, {}), /--nats-stream needs --nats/);
    assert.throws(() => loadServeConfig({ store: 'postgres://x/y', nats: 'nats://q', natsStream: 'a.b' }, {}), /--nats-stream: expected/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(parsePostgresUrl('postgres://u:p@h:5/db?schema=s1&sslmode=disable'), { url: 'postgres://u:p@h:5/db?sslmode=disable', schema: 's1' });
  assert.throws(() => parsePostgresUrl('http://x'), /not a PostgreSQL URL/);
});
