/**
 * The terminal table: never wider than the terminal, one line per alert, whatever the event data holds (wide
 * characters, emoji, combining marks, bidi and control characters, huge command lines); columns by priority.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { rng } from '../helpers/rng.js';
import type { Alert, Severity } from '../../src/model/alert.js';
import { SEVERITIES } from '../../src/model/alert.js';
import { renderTable, renderIncidentHeader, fitTime } from '../../src/output/table.js';
import { writeAlerts } from '../../src/cli/render.js';
import { terminalSafe } from '../../src/output/text.js';
import { displayWidth, shorten, truncateEnd } from '../../src/output/width.js';

// Only SGR colour sequences may appear in the output, and only when colour is on.
// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[[0-9;]*m/g;
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;

const HOSTILE_PIECES = [
  '漢字', '한국어', 'ｆｕｌｌ', '👍', '👨‍👩‍👧', '🇫🇷', 'e\u0301', 'a\u0308\u0308\u0308', 'ज़्', '\u202e', '\u2066', '\u200f', '\u061c',
  '\u001b[31m', '\u001b]0;title\u0007', '\r', '\n', '\t', '\u0000', '\u009b', '\u2028', 'C:\\Windows\\System32\\', ' -Post ', '"', 'x',
  '\u200b', '\ufeff',
];

function hostile(random: () => number, maxPieces: number): string {
  const n = Math.floor(random() * maxPieces);
  let s = '';
  for (let i = 0; i < n; i++) s += HOSTILE_PIECES[Math.floor(random() * HOSTILE_PIECES.length)]!;
  return s;
}

function alertOf(fields: { time?: string; host: string; user: string; rule: string; severity: Severity; reason?: string; image: string; command: string; incident?: string }): Alert {
  return {
    id: `${fields.host}|${fields.command}`.slice(0, 40),
    rule: { id: 'r', title: fields.rule, level: fields.severity, references: [], tags: [], falsepositives: [], source: 'test', extra: {} },
    event: {
      system: { provider: 'Microsoft-Windows-Sysmon', eventId: 1, timeCreated: fields.time ?? '2024-05-01T10:15:30.1234567Z', computer: fields.host, channel: 'Microsoft-Windows-Sysmon/Operational' },
      data: { Image: fields.image, CommandLine: fields.command, User: fields.user },
      origin: { file: 'x', dialect: 'test' },
    },
    matchedRules: ['r'],
    context: { severity: fields.severity, ...(fields.reason ? { reason: fields.reason } : {}), ...(fields.incident ? { incident: { id: fields.incident, new: false } } : {}) },
  } as unknown as Alert;
}

function randomAlerts(random: () => number, count: number): Alert[] {
  return Array.from({ length: count }, (_, i) => {
    const long = random() < 0.3;
    return alertOf({
      host: hostile(random, 12),
      user: hostile(random, 6),
      rule: hostile(random, 20),
      severity: SEVERITIES[Math.floor(random() * SEVERITIES.length)]!,
      reason: random() < 0.5 ? hostile(random, 30) : undefined,
      image: hostile(random, 10),
      command: long ? hostile(random, 400) + 'x'.repeat(Math.floor(random() * 40_000)) : hostile(random, 40),
      incident: `inc-${hostile(random, 4)}${i % 3}`,
    });
  });
}

function visibleLines(out: string): string[] {
  assert.ok(out.endsWith('\n'));
  return out.slice(0, -1).split('\n').map((l) => l.replace(SGR, ''));
}

test('no table line is wider than the terminal, for every width from 60 to 240, colour on and off (seeded)', () => {
  const random = rng(0x5ca1ab1e);
  for (let width = 60; width <= 240; width++) {
    const alerts = randomAlerts(random, 4);
    for (const colour of [false, true]) {
      const out = renderTable(alerts, { width, colour });
      if (!colour) assert.ok(!out.includes('\u001b'), `width ${width}: escape codes with colour off`);
      const lines = visibleLines(out);
      assert.equal(lines.length, alerts.length + 1, `width ${width}: one line per alert plus the header`);
      for (const line of lines) {
        assert.ok(displayWidth(line) <= width, `width ${width}, colour ${colour}: ${displayWidth(line)} columns: ${JSON.stringify(line)}`);
        assert.ok(!UNSAFE.test(line), `width ${width}: raw control or bidi character in ${JSON.stringify(line)}`);
      }
    }
  }
});

test('--group incidents: headers and indented tables fit too (seeded)', async () => {
  const random = rng(42);
  for (let width = 60; width <= 240; width += 7) {
    const alerts = randomAlerts(random, 6);
    for (const colour of [false, true]) {
      let out = '';
      const sink = new Writable({ write(chunk: Buffer, _enc, done) { out += chunk.toString('utf8'); done(); } });
      await writeAlerts(sink, alerts, 'table', { group: 'incidents', width, colour });
      const lines = visibleLines(out).filter((l) => l !== '');
      assert.ok(lines.filter((l) => l.startsWith('INCIDENT ')).length >= 3, `width ${width}: incident headers`);
      for (const line of lines) {
        assert.ok(displayWidth(line) <= width, `width ${width}: ${displayWidth(line)} columns: ${JSON.stringify(line)}`);
        assert.ok(!UNSAFE.test(line), `width ${width}: raw control or bidi character`);
      }
    }
  }
});

test('the command line keeps both ends; required columns always shown, optional ones only when they fit', () => {
  const command = `powershell.exe -enc START${'A'.repeat(5000)}END C:\\Users\\Public\\payload.exe`;
  const alert = alertOf({ host: 'WS01.corp.example', user: 'CORP\\alice', rule: 'Suspicious Encoded PowerShell', severity: 'high', reason: 'encoded command', image: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', command });
  for (const width of [60, 80, 120, 200]) {
    const [header, line] = visibleLines(renderTable([alert], { width }));
    assert.ok(line!.endsWith(width >= 120 ? 'payload.exe' : '.exe'), `width ${width}: the end of the command line is shown: ${line}`);
    assert.match(line!, width >= 120 ? /powershell\.exe -enc/ : /  powersh/, `width ${width}: its start too`);
    for (const title of ['TIME', 'HOST', 'RULE']) assert.ok(header!.includes(title), `width ${width}: ${title}`);
    assert.match(header!, /SEV/);
  }
  // At 80 columns the optional columns give way; the command line's width is what grows.
  const narrow = visibleLines(renderTable([alert], { width: 80 }))[0]!;
  for (const title of ['USER', 'REASON', 'IMAGE']) assert.ok(!narrow.includes(title), `80: ${title} is left out`);
  const short = alertOf({ host: 'WS01', user: 'CORP\\alice', rule: 'Rule', severity: 'low', reason: 'why', image: 'C:\\x.exe', command: 'x.exe /y' });
  const wide = visibleLines(renderTable([short], { width: 200 }));
  for (const title of ['USER', 'REASON', 'IMAGE']) assert.ok(wide[0]!.includes(title), `200: ${title} shown when it fits`);
  assert.match(wide[1]!, /CORP\\alice\s+Rule\s+why\s+C:\\x\.exe\s+x\.exe \/y$/);
  // The command line gets more of a wider terminal.
  const cmdWidth = (width: number): number => displayWidth(visibleLines(renderTable([alert], { width }))[1]!.split(/ {2}/).at(-1)!);
  assert.ok(cmdWidth(80) >= 20 && cmdWidth(120) > cmdWidth(80) && cmdWidth(200) > cmdWidth(120), `${cmdWidth(80)} ${cmdWidth(120)} ${cmdWidth(200)}`);
  assert.ok(cmdWidth(120) >= 40, 'at 120 columns the command line gets at least a third');
});

test('severity colours follow the level, and only the severity cell and the header are coloured', () => {
  const alerts = (['critical', 'high', 'medium', 'low', 'informational'] as const).map((severity) => alertOf({ host: 'h', user: 'u', rule: 'r', severity, image: 'i', command: 'c' }));
  const lines = renderTable(alerts, { width: 120, colour: true }).split('\n');
  assert.match(lines[1]!, /\u001b\[1;31mcritical\u001b\[0m/);
  assert.match(lines[2]!, /\u001b\[31mhigh\u001b\[0m/);
  assert.match(lines[3]!, /\u001b\[33mmedium\u001b\[0m/);
  assert.match(lines[4]!, /\u001b\[36mlow\u001b\[0m/);
  assert.match(lines[5]!, /\u001b\[2minformational\u001b\[0m/);
  assert.ok(!renderTable(alerts, { width: 120, colour: false }).includes('\u001b'));
});

test('widths are display columns: wide characters, emoji and combining marks', () => {
  assert.equal(displayWidth('漢字'), 4);
  assert.equal(displayWidth('👨‍👩‍👧'), 2);
  assert.equal(displayWidth('e\u0301'), 1);
  assert.equal(truncateEnd('漢字漢字', 5), '漢字…');
  assert.equal(truncateEnd('漢字漢字', 4), '漢…');
  assert.equal(truncateEnd('e\u0301e\u0301e\u0301e\u0301', 3), 'e\u0301e\u0301…', 'a combining mark stays with its letter');
  assert.equal(shorten('👍👍👍👍👍👍', 7), '👍👍…👍');
  for (let w = 1; w <= 12; w++) {
    for (const s of ['漢字漢字漢字漢字', '👨‍👩‍👧👨‍👩‍👧👨‍👩‍👧👨‍👩‍👧', 'abcdefghijklmnop', 'a漢b字c👍d']) {
      assert.ok(displayWidth(shorten(s, w)) <= w, `shorten(${s}, ${w})`);
      assert.ok(displayWidth(truncateEnd(s, w)) <= w, `truncateEnd(${s}, ${w})`);
    }
  }
  // A cut never splits a surrogate pair, even past the segmenting window of a huge string.
  const huge = '👍'.repeat(50_000);
  assert.ok(!/[\ud800-\udbff]$|^[\udc00-\udfff]/.test(shorten(huge, 31).split('…')[0]!));
  assert.ok(!/^[\udc00-\udfff]/.test(shorten(huge, 31).split('…')[1]!));
});

test('terminalSafe escapes control and bidi characters and nothing else', () => {
  assert.equal(terminalSafe('a\u001b[31mb'), 'a\\x1b[31mb');
  assert.equal(terminalSafe('x\r\n\t'), 'x\\r\\n\\t');
  for (const c of ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c']) {
    assert.equal(terminalSafe(`a${c}b`), `a\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}b`);
  }
  assert.equal(terminalSafe('\u009b'), '\\x9b');
  assert.equal(terminalSafe('漢字 👍 e\u0301 C:\\x'), '漢字 👍 e\u0301 C:\\x');
});

test('time and incident header forms', () => {
  assert.equal(fitTime('2024-05-01T10:15:30.1234567Z', 24), '2024-05-01 10:15:30.123Z');
  assert.equal(fitTime('2024-05-01T10:15:30.1234567Z', 23), '2024-05-01 10:15:30Z');
  assert.equal(fitTime('2024-05-01T10:15:30Z', 14), '05-01 10:15:30');
  assert.equal(fitTime('2024-05-01T10:15:30Z', 10), '10:15:30');
  const h = { id: 'inc-ab5dedd076818e8e', severity: 'critical', host: 'WS01.corp.example', first: '2024-05-01T10:15:30.123Z', last: '2024-05-01T10:31:44.301Z', alertCount: 3 };
  assert.equal(renderIncidentHeader(h, 200), 'INCIDENT inc-ab5dedd076818e8e  critical  host WS01.corp.example  2024-05-01 10:15:30.123Z .. 2024-05-01 10:31:44.301Z  3 alerts');
  for (let w = 20; w <= 120; w++) assert.ok(displayWidth(renderIncidentHeader({ ...h, host: '\u202e漢字'.repeat(20) }, w)) <= w, `header at ${w}`);
});

test('huge non-ASCII command lines cost what their shown part costs (bounded measuring)', () => {
  // Measuring a whole 64 KiB string of wide characters takes seconds per cell; a table of 300 must not.
  const command = `certreq -Post ${'漢字👍e\u0301'.repeat(13_000)} C:\\out.txt`;
  const alerts = Array.from({ length: 300 }, (_, i) => alertOf({ host: `WS${i}`, user: 'u', rule: 'r', severity: 'high', image: 'i', command }));
  const started = performance.now();
  const lines = visibleLines(renderTable(alerts, { width: 120 }));
  const ms = performance.now() - started;
  assert.equal(lines.length, 301);
  for (const l of lines.slice(1)) assert.ok(l.endsWith('C:\\out.txt') && displayWidth(l) <= 120);
  assert.ok(ms < 15_000, `${Math.round(ms)} ms for 300 rows`);
});
