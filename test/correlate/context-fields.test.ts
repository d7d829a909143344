/**
 * The field lists of CONTEXT_EVENTS are what lets the EVTX decoder leave other fields out of events kept only
 * for correlation (lazy value decoding). This checks them against what the correlator really reads: every
 * context event is fed with data that records each field read, an alert is raised on its process and its
 * context built, and nothing outside the list may have been read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTEXT_EVENTS, Correlator } from '../../src/correlate/index.js';
import type { FieldValue, WinEvent } from '../../src/model/event.js';
import { BUILTIN, CERTREQ, detections, sec4688, sec4689, sysmonDns, sysmonEnd, sysmonFile, sysmonNetwork, sysmonStart } from './support/events.js';

/** The event with its data behind a proxy that records every field name read. */
function watched(ev: WinEvent, read: Set<string>): WinEvent {
  const data = new Proxy(ev.data, {
    get(target, key, receiver): unknown {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key, receiver) as unknown;
    },
    has(target, key): boolean {
      if (typeof key === 'string') read.add(key);
      return Reflect.has(target, key);
    },
  }) as Record<string, FieldValue>;
  return { ...ev, data };
}

test('correlation reads only the listed fields of the context events', () => {
  const guid = '11111111-2222-3333-4444-555555555555';
  const parentGuid = '99999999-2222-3333-4444-555555555555';
  const t = (s: number): string => `2024-03-01T10:00:${String(s).padStart(2, '0')}.0000000Z`;
  const context: WinEvent[] = [
    sysmonStart({ time: t(1), guid: parentGuid, pid: 100, image: 'C:\\Windows\\System32\\cmd.exe', cmd: 'cmd.exe', ppid: 4 }),
    sysmonNetwork({ time: t(3), guid, pid: 200, ip: '203.0.113.7', hostname: 'x.example', port: 443 }),
    sysmonDns({ time: t(3), guid, pid: 200, query: 'x.example', results: '203.0.113.7' }),
    sysmonFile({ time: t(4), guid, pid: 200, path: 'C:\\Users\\a\\out.txt' }),
    sysmonEnd({ time: t(5), guid, pid: 200, image: 'C:\\Windows\\System32\\certreq.exe' }),
    sec4688({ time: t(1), pid: 300, ppid: 100, image: 'C:\\Windows\\System32\\cmd.exe', cmd: 'cmd.exe', parentImage: 'C:\\Windows\\explorer.exe' }),
    sec4689({ time: t(5), pid: 300, image: 'C:\\Windows\\System32\\cmd.exe', status: 0 }),
  ];
  const alertOn = sysmonStart({ time: t(2), guid, pid: 200, image: 'C:\\Windows\\System32\\certreq.exe', cmd: CERTREQ, ppid: 100, parentGuid, ofn: 'CertReq.exe' });
  const correlator = new Correlator({});
  const read = new Map<string, Set<string>>();
  const feed = (ev: WinEvent): void => {
    const key = `${ev.system.provider}/${ev.system.eventId}`;
    const set = read.get(key) ?? new Set<string>();
    read.set(key, set);
    correlator.observe(watched(ev, set));
  };
  feed(context[0]!);
  feed(context[5]!);
  correlator.observe(alertOn); // the alert's own event holds a literal: it is always decoded in full
  const alerts = correlator.alertsFor(alertOn, detections(alertOn, BUILTIN));
  for (const ev of context.slice(1)) if (ev !== context[5]) feed(ev);
  correlator.takeContextUpdates();
  const final = correlator.finalize(alerts);
  assert.equal(final.length, 1, 'the alert was raised');
  // Its context was built from the context events (parent, lifetime, evidence), so their fields were read.
  const built = JSON.stringify(final[0]!.context);
  for (const seen of ['cmd.exe', '203.0.113.7', 'x.example', 'out.txt']) assert.ok(built.includes(seen), `context holds ${seen}: ${built}`);
  assert.equal(read.size, 7, `every context event kind was fed: ${[...read.keys()].join(', ')}`);
  for (const [key, fields] of read) {
    const [provider, id] = key.split('/');
    const listed = CONTEXT_EVENTS.find((k) => k.provider === provider && k.eventIds.includes(Number(id)))!;
    assert.ok(listed, key);
    const unlisted = [...fields].filter((f) => !listed.fields.includes(f));
    assert.deepEqual(unlisted, [], `${key} reads fields outside CONTEXT_EVENTS: ${unlisted.join(', ')}`);
    assert.ok(fields.size > 0, `${key}: something was read`);
  }
});
