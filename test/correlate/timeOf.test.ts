/**
 * timeOf (src/correlate/fields.ts) reads a time of the same second as the previous one without Date.parse. It must
 * give what Date.parse plus the sub-millisecond digits gives, whatever came before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timeOf } from '../../src/correlate/fields.js';
import type { WinEvent } from '../../src/model/event.js';

/** The definition: Date.parse, plus the digits beyond the milliseconds as a fraction; 0 when unparsable. */
function reference(iso: string): number {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return 0;
  const dot = iso.indexOf('.');
  if (dot === -1) return t;
  let end = dot + 1;
  while (end < iso.length && end - dot <= 7 && iso.charCodeAt(end) >= 0x30 && iso.charCodeAt(end) <= 0x39) end++;
  const sub = iso.slice(dot + 4, end);
  return sub === '' ? t : t + Number(`0.${sub}`);
}

const ev = (timeCreated: string): WinEvent => ({ system: { provider: 'p', eventId: 1, timeCreated, channel: 'c', computer: 'h' }, data: {}, origin: { file: 'mem' } });

test('timeOf equals Date.parse plus the sub-millisecond digits, in any order of inputs', () => {
  const times = [
    '2024-05-01T00:00:00.1200000Z', '2024-05-01T00:00:00.1234567Z', '2024-05-01T00:00:00.9999999Z', '2024-05-01T00:00:00.0000001Z',
    '2024-05-01T00:00:01.0000000Z', '2024-05-01T00:00:01.5Z', '2024-05-01T00:00:01.500Z', '2024-05-01T00:00:01Z',
    '2024-05-01T00:00:01.12345a7Z', '2024-05-01T00:00:01.1234567X', '2024-05-01T00:00:01,1234567Z', '2024-05-01T00:00:01.123456Z',
    '2024-13-01T00:00:01.1234567Z', '2024-05-01T00:00:60.1234567Z', '2024-05-01T00:00:01.1234567Z', '2024-05-01 00:00:01.1234567Z',
    '2024.05.01T00:00:01.1234567Z', '1969-12-31T23:59:59.9990001Z', '1969-12-31T23:59:59.0010001Z', '+02024-05-01T00:00:01.1234Z',
    '', 'not a time', '2024-02-30T00:00:00.0000000Z', '2024-02-29T23:59:59.5555555Z', '2024-02-29T23:59:59.4444444Z',
  ];
  // Every pair in both orders: the fast path depends on the time read before.
  for (const a of times) {
    for (const b of times) {
      assert.equal(timeOf(ev(a)), reference(a), a);
      assert.equal(timeOf(ev(b)), reference(b), `${b} after ${a}`);
    }
  }
  // A run of one second, as a busy host logs it.
  for (let i = 0; i < 1000; i++) {
    const iso = `2024-05-01T10:20:30.${String(i * 9973 % 10_000_000).padStart(7, '0')}Z`;
    assert.equal(timeOf(ev(iso)), reference(iso), iso);
  }
});
