/**
 * The end-to-end story of an alert completed by later events, against a running service over real HTTP:
 * shared by the SQLite service test, the PostgreSQL service test and the scale-out (NATS + worker) test.
 * Every step waits for the outcome (in scale-out mode ingest answers before a worker committed).
 */
import assert from 'node:assert/strict';
import { until } from './http.js';
import { ndjson, sec4688, sec4689, subscribe, sysmonEnd, sysmonNetwork, sysmonStart } from './liveEvents.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Target {
  url: string;
  headers: Record<string, string>;
  /** Host names are made unique per run with this suffix. */
  suffix: string;
}

async function post(t: Target, docs: unknown[]): Promise<Doc> {
  const res = await fetch(`${t.url}/ingest`, { method: 'POST', headers: t.headers, body: ndjson(docs) });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as Doc;
}

async function get(t: Target, path: string): Promise<Doc> {
  const res = await fetch(`${t.url}${path}`, { headers: t.headers });
  assert.equal(res.status, 200, path);
  return (await res.json()) as Doc;
}

async function events(t: Target): Promise<number> {
  return (await get(t, '/api/health')).store.events as number;
}

/** Waits until the service stored `n` more events than `before` (the batches before them are then committed too). */
async function stored(t: Target, before: number, n: number): Promise<void> {
  await until(async () => (await events(t)) >= before + n, 20_000, `${n} more stored events`);
}

async function alertOf(t: Target, host: string): Promise<Doc> {
  let id: string | undefined;
  await until(async () => {
    const list = await get(t, `/api/alerts?host=${encodeURIComponent(host)}&rule=certreq-download-upload`);
    id = (list.items as Doc[])[0]?.id as string | undefined;
    return id !== undefined;
  }, 20_000, `an alert on ${host}`);
  return get(t, `/api/alerts/${id}`);
}

const contextAudits = (detail: Doc): Doc[] => (detail.audit as Doc[]).filter((a) => a.action === 'alert.context');

export async function sysmonStory(t: Target): Promise<void> {
  const host = `LIVE-SYS-${t.suffix}`;
  const sse = await subscribe(t.url, t.headers);
  try {
    const start = { host, time: '2026-05-01T09:00:00.0000000Z', guid: '84453EAB-0001-0002-0003-000000000A01', pid: 4242, parentGuid: '84453EAB-0001-0002-0003-000000000A00', ppid: 2320 };
    await post(t, [sysmonStart(start)]);
    const first = await alertOf(t, host);
    const pw0 = first.alert.procwatch;
    assert.equal(pw0.lifetime.still_running, true);
    assert.deepEqual(pw0.process_tree.children, []);
    assert.equal(pw0.evidence, undefined);

    // A separate request: its network connection, a child, its termination.
    let before = await events(t);
    const later = [
      sysmonNetwork({ host, time: '2026-05-01T09:00:01.0000000Z', guid: start.guid, pid: start.pid, ip: '203.0.113.7', hostname: 'exfil.example.invalid', port: 443 }),
      sysmonStart({ host, time: '2026-05-01T09:00:01.5000000Z', guid: '84453EAB-0001-0002-0003-000000000A02', pid: 4300, parentGuid: start.guid, ppid: start.pid, image: 'C:\\Windows\\System32\\cmd.exe', cmd: 'cmd.exe /c whoami' }),
      sysmonEnd({ host, time: '2026-05-01T09:00:03.0000000Z', guid: start.guid, pid: start.pid }),
    ];
    await post(t, later);
    await stored(t, before, 3);
    let detail: Doc = {};
    await until(async () => {
      detail = await get(t, `/api/alerts/${first.id}`);
      return detail.alert.procwatch.lifetime.still_running === false;
    }, 20_000, 'the alert to show the termination');
    const pw = detail.alert.procwatch;
    assert.equal(pw.lifetime.end, '2026-05-01T09:00:03.0000000Z');
    assert.equal(pw.lifetime.duration_ms, 3000);
    assert.deepEqual((pw.process_tree.children as Doc[]).map((c) => [c.pid, c.executable]), [[4300, 'C:\\Windows\\System32\\cmd.exe']]);
    assert.equal(pw.evidence.network[0].destination_ip, '203.0.113.7');
    assert.equal(pw.evidence.network[0].destination_port, 443);
    // What fired is not regraded: severity, reason and incident are as they were.
    assert.equal(pw.severity, pw0.severity);
    assert.equal(detail.severity, first.severity);
    assert.equal(pw.reason, pw0.reason);
    assert.equal(pw.incident.id, pw0.incident.id);
    assert.equal(contextAudits(detail).length, 1);
    assert.deepEqual(contextAudits(detail)[0]!.detail.changed.sort(), ['evidence', 'lifetime', 'process_tree']);

    // The console's stream announces the update with the new document.
    await until(() => sse.blocks().some((b) => b.event === 'alert-updated' && b.id === first.id), 20_000, 'an alert-updated SSE event');
    const pushed = sse.blocks().filter((b) => b.event === 'alert-updated' && b.id === first.id);
    assert.equal(pushed.length, 1);
    assert.equal((pushed[0]!.data as Doc).alert.procwatch.lifetime.still_running, false);

    // Re-sending the same events changes nothing (they are duplicates: not correlated again).
    before = await events(t);
    await post(t, later);
    const marker = sysmonStart({ host, time: '2026-05-01T09:10:00.0000000Z', guid: '84453EAB-0001-0002-0003-000000000A09', pid: 5000, parentGuid: start.parentGuid, ppid: 2320, image: 'C:\\Windows\\notepad.exe', cmd: 'notepad.exe' });
    await post(t, [marker]);
    await stored(t, before, 1);
    const again = await get(t, `/api/alerts/${first.id}`);
    assert.equal(contextAudits(again).length, 1, 'no second update');
    assert.equal(again.updated_at, detail.updated_at);
    assert.deepEqual(again.alert, detail.alert);
    assert.equal(sse.blocks().filter((b) => b.event === 'alert-updated' && b.id === first.id).length, 1);
  } finally {
    sse.close();
  }
}

export async function securityStory(t: Target): Promise<void> {
  const host = `LIVE-SEC-${t.suffix}`;
  const other = `LIVE-SEC2-${t.suffix}`;
  const pid = 0x1a2c;
  await post(t, [sec4688({ host, time: '2026-05-01T10:00:00.0000000Z', pid, ppid: 0x2f0 })]);
  const first = await alertOf(t, host);
  assert.equal(first.alert.procwatch.lifetime.still_running, true);

  // The same PID on another host, and on this host before the start: not this process.
  const before = await events(t);
  await post(t, [
    sec4689({ host: other, time: '2026-05-01T10:00:02.0000000Z', pid }),
    sec4689({ host, time: '2026-05-01T09:59:00.0000000Z', pid }),
  ]);
  await stored(t, before, 2);
  // In scale-out the other host's partition may lag: the assertion is about this alert, which is unchanged.
  const unchanged = await get(t, `/api/alerts/${first.id}`);
  assert.equal(unchanged.alert.procwatch.lifetime.still_running, true);
  assert.equal(contextAudits(unchanged).length, 0);
  assert.equal(unchanged.updated_at, first.updated_at);

  await post(t, [sec4689({ host, time: '2026-05-01T10:00:02.5000000Z', pid, status: 0x1 })]);
  let detail: Doc = {};
  await until(async () => {
    detail = await get(t, `/api/alerts/${first.id}`);
    return detail.alert.procwatch.lifetime.still_running === false;
  }, 20_000, 'the 4689 to end the 4688 process');
  const lifetime = detail.alert.procwatch.lifetime;
  assert.equal(lifetime.end, '2026-05-01T10:00:02.5000000Z');
  assert.equal(lifetime.duration_ms, 2500);
  assert.equal(lifetime.exit_status, '0x1');
  assert.equal(lifetime.end_event.event_id, 4689);
  assert.equal(contextAudits(detail).length, 1);
}
