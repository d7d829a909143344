/**
 * The process index answers lookups by binary search over time-ordered per-key lists. This test checks every
 * lookup against a plain reference: the same questions answered by scanning all held records linearly (the
 * definition of each answer), on random inputs with PID reuse, GUID-less Security records, out-of-order arrival
 * and eviction past capacity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessIndex, type EndRecord, type EvidenceRecord, type IndexRecord, type StartRecord } from '../../src/correlate/processIndex.js';
import type { WinEvent } from '../../src/model/event.js';
import { rng } from '../helpers/rng.js';
import { CMD, sec4688, sec4689, sysmonEnd, sysmonFile, sysmonNetwork, sysmonStart } from './support/events.js';

const byTime = (a: { ms: number; seq: number }, b: { ms: number; seq: number }): number => a.ms - b.ms || a.seq - b.seq;

/** The answers by definition, over the records the index holds (the last `capacity` added, in arrival order). */
class Reference {
  constructor(private readonly held: readonly IndexRecord[]) {}

  private starts(host: string, pid: number): StartRecord[] {
    return this.held.filter((r): r is StartRecord => r.kind === 'start' && r.host === host && r.pid === pid).sort(byTime);
  }

  private byGuid<T extends IndexRecord>(kind: T['kind'], host: string, guid: string): T | undefined {
    return this.held.filter((r): r is T => r.kind === kind && r.host === host && r.guid === guid).at(-1);
  }

  private latestStartAtOrBefore(host: string, pid: number, ms: number, guid?: string, exclude?: StartRecord): StartRecord | undefined {
    return this.starts(host, pid).filter((s) => s !== exclude && s.ms <= ms && !(guid && s.guid && s.guid !== guid)).at(-1);
  }

  private nextStartMs(rec: StartRecord): number {
    if (rec.pid === undefined) return Infinity;
    return this.starts(rec.host, rec.pid).find((s) => s !== rec && s.ms > rec.ms)?.ms ?? Infinity;
  }

  processOf(host: string, pid: number | undefined, guid: string | undefined, ms: number): StartRecord | undefined {
    const g = guid ? this.byGuid<StartRecord>('start', host, guid) : undefined;
    if (g) return g;
    return pid === undefined ? undefined : this.latestStartAtOrBefore(host, pid, ms, guid);
  }

  endOf(rec: StartRecord): EndRecord | undefined {
    const g = rec.guid ? this.byGuid<EndRecord>('end', rec.host, rec.guid) : undefined;
    if (g) return g;
    if (rec.pid === undefined) return undefined;
    const until = this.nextStartMs(rec);
    return this.held
      .filter((r): r is EndRecord => r.kind === 'end' && r.host === rec.host && r.pid === rec.pid)
      .sort(byTime)
      .find((e) => e.ms >= rec.ms && e.ms <= until && !(e.guid && rec.guid && e.guid !== rec.guid));
  }

  parentOf(child: StartRecord): StartRecord | undefined {
    const g = child.parentGuid ? this.byGuid<StartRecord>('start', child.host, child.parentGuid) : undefined;
    if (g) return g;
    if (child.parentPid === undefined) return undefined;
    const candidate = this.latestStartAtOrBefore(child.host, child.parentPid, child.ms, child.parentGuid, child);
    const end = candidate ? this.endOf(candidate) : undefined;
    return end && end.ms < child.ms ? undefined : candidate;
  }

  childSeqs(rec: StartRecord): number[] {
    const until = Math.min(this.endOf(rec)?.ms ?? Infinity, this.nextStartMs(rec));
    return this.held
      .filter((c): c is StartRecord => c.kind === 'start' && c.host === rec.host)
      .filter((c) =>
        (rec.guid !== undefined && c.parentGuid === rec.guid) ||
        (rec.pid !== undefined && c.parentPid === rec.pid && c.ms >= rec.ms && c.ms <= until && !(c.parentGuid && rec.guid && c.parentGuid !== rec.guid) && c.seq !== rec.seq))
      .sort(byTime)
      .map((c) => c.seq);
  }

  evidenceSeqs(rec: StartRecord): number[] {
    const until = Math.min(this.endOf(rec)?.ms ?? Infinity, this.nextStartMs(rec));
    return this.held
      .filter((e): e is EvidenceRecord => e.kind !== 'start' && e.kind !== 'end' && e.host === rec.host)
      .filter((e) =>
        (rec.guid !== undefined && e.guid === rec.guid) ||
        (rec.pid !== undefined && e.pid === rec.pid && !(e.guid && rec.guid) && e.ms >= rec.ms && e.ms <= until))
      .sort(byTime)
      .map((e) => e.seq);
  }
}

/** Security starts run another image: no Sysmon/Security twins, which childrenOf would merge (sameProcessOnce). */
const SEC_IMAGE = 'C:\\Windows\\System32\\whoami.exe';

/** Random process activity on two hosts: few PIDs (much reuse), Sysmon with GUIDs and Security without. */
function randomEvents(seed: number, count: number): WinEvent[] {
  const r = rng(seed);
  const pick = (n: number): number => Math.floor(r() * n);
  const events: WinEvent[] = [];
  const base = Date.UTC(2026, 2, 1);
  for (let i = 0; i < count; i++) {
    // Times from a small range, so that equal times and out-of-order arrival both happen.
    const time = new Date(base + pick(400) * 250).toISOString();
    const host = ['WS01', 'ws01', 'WS02'][pick(3)]!; // host names match case-insensitively
    const pid = 100 + 4 * pick(6);
    const ppid = 100 + 4 * pick(6);
    const guid = `g-${pid}-${pick(4)}`;
    const kind = pick(7);
    if (kind === 0 || kind === 1) events.push(sysmonStart({ host, time, guid, pid, ppid, parentGuid: pick(3) === 0 ? undefined : `g-${ppid}-${pick(4)}`, image: CMD, cmd: `cmd /c ${i}` }));
    else if (kind === 2) events.push(sysmonEnd({ host, time, guid, pid, image: CMD }));
    else if (kind === 3) events.push(pick(2) === 0 ? sysmonNetwork({ host, time, guid, pid, ip: '203.0.113.9', port: 443 }) : sysmonFile({ host, time, guid, pid, path: `C:\\t\\${i}` }));
    else if (kind === 4) events.push(sec4688({ host, time, pid, ppid, image: SEC_IMAGE, cmd: `cmd /c ${i}` }));
    else if (kind === 5) events.push(sec4689({ host, time, pid, image: SEC_IMAGE }));
    else events.push(sysmonFile({ host, time, guid: `g-${pid}-${pick(4)}`, pid, path: `C:\\u\\${i}` }));
  }
  return events;
}

function compare(seed: number, count: number, capacity: number): void {
  const index = new ProcessIndex(capacity);
  const added: IndexRecord[] = [];
  const events = randomEvents(seed, count);
  for (const ev of events) {
    const rec = index.add(ev);
    if (rec) added.push(rec);
  }
  const ref = new Reference(added.slice(-capacity));
  assert.equal(index.size, Math.min(capacity, added.length));
  const seq = (r: IndexRecord | undefined): number | undefined => r?.seq;
  let starts = 0;
  for (const ev of events) {
    const rec = index.processOf(ev);
    const wanted = ref.processOf(ev.system.computer.toLowerCase(), pidOfEvent(ev), guidOfEvent(ev), Date.parse(ev.system.timeCreated));
    assert.equal(seq(rec), seq(wanted), `processOf, seed ${seed}`);
    if (!rec || !index.holds(rec)) continue;
    starts++;
    assert.equal(seq(index.endOf(rec)), seq(ref.endOf(rec)), `endOf #${rec.seq}, seed ${seed}`);
    assert.equal(seq(index.parentOf(rec)), seq(ref.parentOf(rec)), `parentOf #${rec.seq}, seed ${seed}`);
    assert.deepEqual(index.childrenOf(rec, Number.MAX_SAFE_INTEGER).children.map((c) => c.seq), ref.childSeqs(rec), `childrenOf #${rec.seq}, seed ${seed}`);
    assert.deepEqual(index.evidenceOf(rec).map((e) => e.seq), ref.evidenceSeqs(rec), `evidenceOf #${rec.seq}, seed ${seed}`);
  }
  assert.ok(starts > count / 10, `the queries reached held processes (${starts})`);
}

function pidOfEvent(ev: WinEvent): number | undefined {
  const raw = ev.system.eventId === 4688 ? ev.data['NewProcessId'] : ev.data['ProcessId'];
  return raw === undefined ? undefined : Number(raw);
}

function guidOfEvent(ev: WinEvent): string | undefined {
  const g = ev.data['ProcessGuid'];
  return typeof g === 'string' ? g.replace(/[{}]/g, '').toLowerCase() : undefined;
}

test('indexed lookups give the answers of a linear scan over everything held (random inputs, PID reuse, out of order)', () => {
  for (let seed = 1; seed <= 12; seed++) compare(seed, 600, 100_000);
});

test('indexed lookups stay exact after eviction past capacity', () => {
  for (let seed = 101; seed <= 108; seed++) compare(seed, 900, 250);
});
