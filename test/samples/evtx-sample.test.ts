/**
 * samples/sysmon-ws05.evtx is the project's own EVTX sample: the committed bytes are exactly what
 * scripts/make-sample-evtx.ts writes, and a scan of it tells the certreq story it was written to tell.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sampleEvtx } from '../../scripts/make-sample-evtx.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';

const SAMPLE = join(REPO_ROOT, 'samples', 'sysmon-ws05.evtx');

test('the committed EVTX sample is what its script writes (regenerate with scripts/make-sample-evtx.ts)', () => {
  assert.ok(Buffer.from(sampleEvtx()).equals(readFileSync(SAMPLE)), 'samples/sysmon-ws05.evtx differs from the script');
});

test('scanning the EVTX sample: upload high, executable download critical, the administrator low', async () => {
  const r = await runCli(['scan', SAMPLE, '--format', 'jsonl']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /17 events/);
  const alerts = jsonLines(r.stdout).map((d) => [d['process'].pid, d['procwatch'].severity, d['procwatch'].certreq?.verb]);
  assert.deepEqual(alerts, [
    [4200, 'high', 'post'],
    [4300, 'critical', 'post'],
    [5100, 'low', 'submit'],
  ]);
  const download = jsonLines(r.stdout)[1]!;
  assert.equal(download['procwatch'].evidence.files[0].path, 'C:\\Users\\Public\\update.exe', 'the written file is in the evidence');
  assert.equal(download['procwatch'].lifetime.duration_ms, 600);
  // Critical already by grade; the run of the written file is now said and linked (PID 4400 raises no alert).
  assert.match(download['procwatch'].reason, /and the downloaded file C:\\Users\\Public\\update\.exe ran at 2024-05-01T13:01:20\.7501234Z as PID 4400$/);
  assert.deepEqual(download['procwatch'].extent, {
    executed: [{
      pid: 4400,
      guid: '5b7e9a10-4e05-6632-1130-000000006500',
      image: 'C:\\Users\\Public\\update.exe',
      command_line: 'C:\\Users\\Public\\update.exe /quiet',
      start: '2024-05-01T13:01:20.7501234Z',
    }],
  });
  const others = jsonLines(r.stdout).filter((_, i) => i !== 1);
  assert.ok(others.every((d) => d['procwatch'].extent === undefined), 'nothing else ran, and the win.ini dummy body relates nothing');
});
