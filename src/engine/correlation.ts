/**
 * Sigma correlation rules (event_count, value_count, temporal, temporal_ordered) over the detections of
 * their base rules: state per correlation and group-by key, windows of `timespan` on the events' own
 * timestamps. Memory stays bounded: state older than its window is dropped as time advances.
 */
import type { Detection, RuleMeta } from '../model/alert.js';
import type { WinEvent } from '../model/event.js';
import type { SigmaCorrelation } from '../rules/model.js';
import { accessorFor, scalarText } from './fields.js';

interface GroupState {
  /** event_count: times; value_count: value → last time; temporal: rule position → time. */
  times: number[];
  values: Map<string, number>;
  seen: Map<number, number>;
  /** temporal_ordered: start time of the chain that has reached position i. */
  chain: Array<number | undefined>;
  lastEvent: WinEvent;
  lastTime: number;
}

interface CorrelationState {
  corr: SigmaCorrelation;
  groups: Map<string, GroupState>;
}

/** A base rule's part in a correlation: which correlation, at which position, under which reference. */
interface Membership {
  state: CorrelationState;
  position: number;
  ref: string;
}

export class CorrelationEngine {
  private readonly byBaseRule = new Map<string, Membership[]>();
  private readonly states: CorrelationState[] = [];
  private maxTime = 0;
  private sinceSweep = 0;
  /** Upper-bound (lt/lte) results decided by a sweep, handed out with the next detections. */
  private pending: Detection[] = [];

  /** `resolve` maps a correlation's rule reference (id or name) to the base rule id. */
  constructor(correlations: SigmaCorrelation[], resolve: (ref: string) => string | undefined) {
    for (const corr of correlations) {
      const state: CorrelationState = { corr, groups: new Map() };
      this.states.push(state);
      corr.rules.forEach((ref, position) => {
        const id = resolve(ref);
        if (id === undefined) return;
        const list = this.byBaseRule.get(id) ?? [];
        list.push({ state, position, ref });
        this.byBaseRule.set(id, list);
      });
    }
  }

  /** True when the base rule feeds a correlation that does not let it alert on its own. */
  suppresses(ruleId: string): boolean {
    return (this.byBaseRule.get(ruleId) ?? []).some((m) => !m.state.corr.generate);
  }

  feeds(ruleId: string): boolean {
    return this.byBaseRule.has(ruleId);
  }

  /** A base rule matched; returns the correlations this completes. */
  onDetection(rule: RuleMeta, event: WinEvent): Detection[] {
    const members = this.byBaseRule.get(rule.id);
    if (!members) return [];
    const t = eventTime(event);
    if (t > this.maxTime) this.maxTime = t;
    const out: Detection[] = [];
    for (const m of members) {
      const fired = this.update(m, event, t);
      if (fired) out.push({ rule: m.state.corr.meta, event });
    }
    if (++this.sinceSweep >= 10000) this.sweep();
    if (this.pending.length > 0) {
      out.unshift(...this.pending);
      this.pending = [];
    }
    return out;
  }

  /** End of input: correlations whose condition is an upper bound (lt/lte) are decided now. */
  flush(): Detection[] {
    const out: Detection[] = this.pending;
    this.pending = [];
    for (const state of this.states) {
      const cond = state.corr.condition;
      if (!cond || (cond.op !== 'lt' && cond.op !== 'lte')) continue;
      for (const g of state.groups.values()) {
        const n = state.corr.type === 'value_count' ? g.values.size : g.times.length;
        if (n > 0 && compare(cond.op, n, cond.value)) out.push({ rule: state.corr.meta, event: g.lastEvent });
      }
      state.groups.clear();
    }
    return out;
  }

  private update(m: Membership, event: WinEvent, t: number): boolean {
    const { corr } = m.state;
    const key = groupKey(corr, m.ref, event);
    let g = m.state.groups.get(key);
    if (!g) {
      g = { times: [], values: new Map(), seen: new Map(), chain: [], lastEvent: event, lastTime: t };
      m.state.groups.set(key, g);
    }
    g.lastEvent = event;
    g.lastTime = t;
    const from = t - corr.timespanMs;
    const cond = corr.condition;
    switch (corr.type) {
      case 'event_count': {
        g.times.push(t);
        while (g.times.length > 0 && g.times[0]! < from) g.times.shift();
        return this.fireIfReached(m.state, key, g.times.length);
      }
      case 'value_count': {
        const field = cond!.field!;
        const raw = accessorFor(aliasField(corr, field, m.ref), undefined).get(event);
        if (raw === undefined || raw === null) return false;
        g.values.set(Array.isArray(raw) ? raw.map(scalarText).join('\u0000') : scalarText(raw), t);
        for (const [v, at] of g.values) if (at < from) g.values.delete(v);
        return this.fireIfReached(m.state, key, g.values.size);
      }
      case 'temporal': {
        g.seen.set(m.position, t);
        for (const [p, at] of g.seen) if (at < from) g.seen.delete(p);
        const needed = cond ? cond.value : corr.rules.length;
        if (cond ? compare(cond.op, g.seen.size, cond.value) && cond.op !== 'lt' && cond.op !== 'lte' : g.seen.size >= needed) {
          m.state.groups.delete(key);
          return true;
        }
        return false;
      }
      case 'temporal_ordered': {
        if (m.position === 0) g.chain[0] = t;
        else {
          const start = g.chain[m.position - 1];
          if (start !== undefined && start >= from) g.chain[m.position] = start;
        }
        if (g.chain[corr.rules.length - 1] !== undefined) {
          m.state.groups.delete(key);
          return true;
        }
        return false;
      }
    }
  }

  /** gt/gte/eq thresholds fire as soon as they are reached, once per window (the group then starts over). */
  private fireIfReached(state: CorrelationState, key: string, n: number): boolean {
    const cond = state.corr.condition!;
    if (cond.op === 'lt' || cond.op === 'lte') return false;
    if (!compare(cond.op, n, cond.value)) return false;
    state.groups.delete(key);
    return true;
  }

  /** Drops groups whose window has passed; upper-bound (lt/lte) conditions are decided before they go. */
  private sweep(): void {
    this.sinceSweep = 0;
    for (const state of this.states) {
      const cond = state.corr.condition;
      const upper = cond !== undefined && (cond.op === 'lt' || cond.op === 'lte');
      for (const [key, g] of state.groups) {
        if (g.lastTime >= this.maxTime - state.corr.timespanMs) continue;
        if (upper) {
          const n = state.corr.type === 'value_count' ? g.values.size : g.times.length;
          if (n > 0 && compare(cond.op, n, cond.value)) this.pending.push({ rule: state.corr.meta, event: g.lastEvent });
        }
        state.groups.delete(key);
      }
    }
  }
}

function compare(op: 'lt' | 'lte' | 'gt' | 'gte' | 'eq', n: number, v: number): boolean {
  return op === 'lt' ? n < v : op === 'lte' ? n <= v : op === 'gt' ? n > v : op === 'gte' ? n >= v : n === v;
}

function aliasField(corr: SigmaCorrelation, field: string, ref: string): string {
  return corr.aliases[field]?.[ref] ?? field;
}

function groupKey(corr: SigmaCorrelation, ref: string, event: WinEvent): string {
  if (corr.groupBy.length === 0) return '';
  return JSON.stringify(corr.groupBy.map((f) => accessorFor(aliasField(corr, f, ref), undefined).get(event) ?? null));
}

/** The event's time in ms (0 when it has none: such events then all share one window). */
export function eventTime(ev: WinEvent): number {
  const t = Date.parse(ev.system.timeCreated);
  return Number.isNaN(t) ? 0 : t;
}
