/**
 * Public surface of the rule engine: loaded Sigma rules → an Engine that matches WinEvents.
 *
 * How an event is matched:
 *  1. routing: its (provider, channel, event id) selects a bucket holding only the rule instances whose log
 *     source (and EventID conditions) can apply — built on first sight of that combination, then cached;
 *  2. prefilter: in the bucket, each field that carries rule literals is scanned once by a multi-literal DFA;
 *     only rules with a literal present (plus the few without any required literal) are evaluated;
 *  3. evaluation: compiled closures read fields through per-event slot caches (each field read and
 *     lowercased at most once per event).
 */
import type { Detection, RuleMeta } from '../model/alert.js';
import type { Scalar, WinEvent } from '../model/event.js';
import type { LoadedRule } from '../rules/index.js';
import type { SigmaCorrelation, SigmaRule } from '../rules/model.js';
import { resolveLogSource } from '../rules/pipeline.js';
import { compileRule, itemFields, type CompiledInstance } from './compile.js';
import { CorrelationEngine } from './correlation.js';
import { ALL_FIELDS, EventContext, SlotTable, isSystemField, pushSystemValues, scalarText } from './fields.js';
import { LiteralScanner } from './literalScanner.js';

export interface EngineWarning {
  ruleId: string;
  source: string;
  message: string;
}

export interface Engine {
  /** Every rule that matches this event (hot path: synchronous, allocation-light). */
  match(event: WinEvent): Detection[];
  /** Correlation rules: detections still pending at end of input. */
  flush(): Detection[];
  /**
   * Case-insensitive literals of which at least one must occur in any event that can match some rule,
   * or null when no such sound set exists (e.g. a rule with `not` or a keyword-free selection).
   */
  prefilterLiterals(): string[] | null;
  /** Unknown fields, unsupported log sources, ... per rule. */
  warnings: EngineWarning[];
}

export interface EngineStats {
  rules: number;
  instances: number;
  buckets: number;
  evaluated: number;
  events: number;
}

/** The engine with its internals exposed for benchmarks and tests. */
export interface CompiledEngine extends Engine {
  stats(): EngineStats;
}

export interface EngineOptions {
  /** Use the shared literal prefilter (default true); off, every routed rule is evaluated (for cross-checks). */
  prefilter?: boolean;
}

export function compileEngine(rules: LoadedRule[], options: EngineOptions = {}): CompiledEngine {
  return new SigmaEngine(rules, options.prefilter !== false);
}

type Scanner = { slot: number; scanner: LiteralScanner; owners: number[][]; seen: Uint32Array };

/** Rule instances that can apply to one (provider, channel, event id). */
class Bucket {
  readonly always: number[] = [];
  readonly scanners: Scanner[] = [];
  /**
   * Keyword literals (which may occur in any value of the event): they are added to every field scanner that
   * reads an EventData field as is, and this scanner covers the values of the remaining EventData fields and
   * every System header value.
   */
  readonly keywords: (Scanner & { covered: Set<string> }) | null = null;
  readonly mark: Uint32Array;

  constructor(readonly instances: CompiledInstance[], slots: SlotTable, allDataSlot: number, prefilter: boolean, scannerCache: ScannerCache) {
    this.mark = new Uint32Array(instances.length);
    const bySlot = new Map<number, Map<string, number[]>>();
    instances.forEach((inst, i) => {
      if (inst.anchors === null || !prefilter) {
        this.always.push(i);
        return;
      }
      for (const a of inst.anchors) {
        let lits = bySlot.get(a.slot);
        if (!lits) bySlot.set(a.slot, (lits = new Map()));
        const owners = lits.get(a.literal) ?? [];
        if (owners[owners.length - 1] !== i) owners.push(i);
        lits.set(a.literal, owners);
      }
    });
    const keywordLits = bySlot.get(allDataSlot);
    bySlot.delete(allDataSlot);
    const covered = new Set<string>();
    if (keywordLits) {
      for (const [slot, lits] of bySlot) {
        const key = slots.accessors[slot]!.key;
        if (!key.startsWith('data:')) continue;
        covered.add(key.slice(5));
        for (const [lit, owners] of keywordLits) lits.set(lit, [...new Set([...(lits.get(lit) ?? []), ...owners])]);
      }
      this.keywords = { ...makeScanner(allDataSlot, keywordLits, scannerCache), covered };
    }
    for (const [slot, lits] of bySlot) this.scanners.push(makeScanner(slot, lits, scannerCache));
  }
}

/**
 * Scanners by their literal list: buckets of one log source (Sysmon 1 and Security 4688 for process_creation)
 * mostly ask for the same literals of a field, and building the DFA is the costly part of a new bucket.
 * A scanner holds no per-event state (that is the bucket's `seen`), so buckets share it.
 */
type ScannerCache = Map<string, LiteralScanner>;

function makeScanner(slot: number, lits: Map<string, number[]>, cache: ScannerCache): Scanner {
  const literals = [...lits.keys()];
  const key = literals.join('\u0000');
  let scanner = cache.get(key);
  if (scanner === undefined) {
    scanner = new LiteralScanner(literals);
    cache.set(key, scanner);
  }
  return { slot, scanner, owners: literals.map((l) => lits.get(l)!), seen: new Uint32Array(literals.length) };
}

const MAX_BUCKET_CACHE = 4096;

class SigmaEngine implements CompiledEngine {
  readonly warnings: EngineWarning[] = [];
  private readonly metas: RuleMeta[] = [];
  private readonly slots = new SlotTable();
  private readonly instances: CompiledInstance[] = [];
  /** Route key → instance indices. Keys: `p:<provider>|<eid or *>`, `c:<channel>|...`, `*|...`. */
  private readonly index = new Map<string, number[]>();
  /** provider → channel → event id → bucket (no string building per event). */
  private readonly buckets = new Map<string, Map<string, Map<number, Bucket>>>();
  private bucketCount = 0;
  private readonly scannerCache: ScannerCache = new Map();
  private readonly found: number[] = [];
  private ctx!: EventContext;
  private stamp = 0;
  private readonly ruleStamp: Uint32Array;
  private readonly correlation: CorrelationEngine;
  private readonly suppressed: boolean[];
  private readonly feedsCorrelation: boolean[];
  private readonly candidates: number[] = [];
  /** Reused per event: the System header values the keyword scanner reads. */
  private readonly systemValues: Scalar[] = [];
  private evaluated = 0;
  private events = 0;

  constructor(
    loaded: LoadedRule[],
    private readonly prefilter: boolean,
  ) {
    const correlations: SigmaCorrelation[] = [];
    const refs = new Map<string, string>();
    for (const r of loaded) {
      if (r.rule.kind === 'correlation') {
        correlations.push(r.rule);
        continue;
      }
      refs.set(r.meta.id, r.meta.id);
      if (r.rule.name) refs.set(r.rule.name, r.meta.id);
      this.addRule(r.rule);
    }
    this.ruleStamp = new Uint32Array(Math.max(1, this.metas.length));
    this.correlation = new CorrelationEngine(correlations, (ref) => refs.get(ref));
    for (const c of correlations) {
      const missing = c.rules.filter((ref) => !refs.has(ref));
      if (missing.length > 0) this.warn(c.meta, `correlation refers to rules that are not loaded or are correlations: ${missing.join(', ')}`);
    }
    this.suppressed = this.metas.map((m) => this.correlation.suppresses(m.id));
    this.feedsCorrelation = this.metas.map((m) => this.correlation.feeds(m.id));
    this.ctx = new EventContext(this.slots);
  }

  private warn(meta: RuleMeta, message: string): void {
    this.warnings.push({ ruleId: meta.id, source: meta.source, message });
  }

  private addRule(rule: SigmaRule): void {
    const ruleIndex = this.metas.length;
    this.metas.push(rule.meta);
    const resolution = resolveLogSource(rule.logsource);
    if (resolution.unsupported) {
      this.warn(rule.meta, `unsupported log source: ${resolution.unsupported}; the rule never runs`);
      return;
    }
    this.checkFields(rule, resolution.routes);
    const instances = compileRule(rule, ruleIndex, resolution.routes, this.slots);
    if (instances.length === 0) this.warn(rule.meta, 'the condition can never match on its log source');
    for (const inst of instances) {
      const i = this.instances.length;
      this.instances.push(inst);
      const { provider, channel } = inst.route;
      const prefix = provider !== undefined ? `p:${provider.toLowerCase()}` : channel !== undefined ? `c:${channel.toLowerCase()}` : '*';
      for (const eid of inst.eventIds ?? ['*']) {
        const key = `${prefix}|${eid}`;
        const list = this.index.get(key) ?? [];
        list.push(i);
        this.index.set(key, list);
      }
    }
  }

  /** Warns about fields that no event of the rule's log source carries. */
  private checkFields(rule: SigmaRule, routes: ReturnType<typeof resolveLogSource>['routes']): void {
    const fields = new Set<string>();
    for (const ident of rule.detections.values()) for (const g of ident.groups) for (const item of g) for (const f of itemFields(item)) fields.add(f);
    for (const f of fields) {
      if (isSystemField(f)) continue;
      const withSchema = routes.filter((r) => r.knownFields);
      if (withSchema.length === 0) continue;
      const missingOn = withSchema.filter((r) => !r.knownFields!.includes(f) && !(r.fields && f in r.fields));
      if (missingOn.length === withSchema.length)
        this.warn(rule.meta, `field '${f}' is unknown for ${missingOn.map((r) => r.name).join(', ')}: it never has a value there`);
    }
  }

  private bucketFor(ev: WinEvent): Bucket {
    const s = ev.system;
    let byChannel = this.buckets.get(s.provider);
    if (!byChannel) this.buckets.set(s.provider, (byChannel = new Map()));
    let byId = byChannel.get(s.channel);
    if (!byId) byChannel.set(s.channel, (byId = new Map()));
    let b = byId.get(s.eventId);
    if (b) return b;
    const p = `p:${(s.provider ?? '').toLowerCase()}`;
    const c = `c:${(s.channel ?? '').toLowerCase()}`;
    const ids = new Set<number>();
    for (const prefix of [p, c, '*'])
      for (const eid of [String(s.eventId), '*']) for (const i of this.index.get(`${prefix}|${eid}`) ?? []) ids.add(i);
    b = new Bucket([...ids].sort((x, y) => x - y).map((i) => this.instances[i]!), this.slots, this.slots.find(ALL_FIELDS.key), this.prefilter, this.scannerCache);
    if (this.bucketCount >= MAX_BUCKET_CACHE) {
      // Hostile or odd input with endless provider/channel/id combinations: start the cache over.
      this.buckets.clear();
      this.scannerCache.clear();
      this.bucketCount = 0;
      return this.bucketFor(ev);
    }
    byId.set(s.eventId, b);
    this.bucketCount++;
    return b;
  }

  match(event: WinEvent): Detection[] {
    this.events++;
    const bucket = this.bucketFor(event);
    if (bucket.instances.length === 0) return [];
    const ctx = this.ctx;
    ctx.reset(event);
    const stamp = (this.stamp = (this.stamp + 1) >>> 0 || 1);
    if (stamp === 1) {
      this.ruleStamp.fill(0);
      for (const byChannel of this.buckets.values())
        for (const byId of byChannel.values())
          for (const b of byId.values()) {
            b.mark.fill(0);
            for (const sc of b.scanners) sc.seen.fill(0);
            b.keywords?.seen.fill(0);
          }
    }
    const cands = this.candidates;
    cands.length = 0;
    const mark = bucket.mark;
    for (const i of bucket.always) {
      mark[i] = stamp;
      cands.push(i);
    }
    const found = this.found;
    for (const sc of bucket.scanners) {
      const v = ctx.get(sc.slot);
      if (v === undefined) continue;
      found.length = 0;
      if (Array.isArray(v)) for (const x of v) sc.scanner.scan(scalarText(x), sc.seen, stamp, found);
      else sc.scanner.scan(typeof v === 'string' ? v : scalarText(v), sc.seen, stamp, found);
      for (const id of found)
        for (const i of sc.owners[id]!) {
          if (mark[i] === stamp) continue;
          mark[i] = stamp;
          cands.push(i);
        }
    }
    const kw = bucket.keywords;
    if (kw) {
      found.length = 0;
      const data = event.data;
      for (const key in data) {
        if (kw.covered.has(key)) continue;
        const v = data[key]!;
        if (Array.isArray(v)) for (const x of v) kw.scanner.scan(scalarText(x), kw.seen, stamp, found);
        else kw.scanner.scan(typeof v === 'string' ? v : scalarText(v), kw.seen, stamp, found);
      }
      const system = this.systemValues;
      system.length = 0;
      pushSystemValues(event.system, system);
      for (const v of system) kw.scanner.scan(scalarText(v), kw.seen, stamp, found);
      for (const id of found)
        for (const i of kw.owners[id]!) {
          if (mark[i] === stamp) continue;
          mark[i] = stamp;
          cands.push(i);
        }
    }
    if (cands.length === 0) return [];
    if (cands.length > 1) cands.sort((a, b) => a - b);
    let out: Detection[] | undefined;
    for (const i of cands) {
      const inst = bucket.instances[i]!;
      const r = inst.ruleIndex;
      if (this.ruleStamp[r] === stamp) continue;
      this.evaluated++;
      if (!inst.match(ctx)) continue;
      this.ruleStamp[r] = stamp;
      out ??= [];
      const meta = this.metas[r]!;
      if (!this.suppressed[r]) out.push({ rule: meta, event });
      if (this.feedsCorrelation[r]) out.push(...this.correlation.onDetection(meta, event));
    }
    return out ?? [];
  }

  flush(): Detection[] {
    return this.correlation.flush();
  }

  prefilterLiterals(): string[] | null {
    const lits = new Set<string>();
    for (const inst of this.instances) {
      if (inst.anchors === null) return null;
      for (const a of inst.anchors) {
        if (!a.verbatim || !isTextOnly(a.literal)) return null;
        lits.add(a.literal);
      }
    }
    // A literal containing another is redundant: the shorter one already passes that record.
    const sorted = [...lits].sort((a, b) => a.length - b.length);
    const kept: string[] = [];
    for (const l of sorted) if (!kept.some((k) => l.includes(k))) kept.push(l);
    return kept.sort();
  }

  stats(): EngineStats {
    return { rules: this.metas.length, instances: this.instances.length, buckets: this.bucketCount, evaluated: this.evaluated, events: this.events };
  }
}

/**
 * True when the literal can only occur inside a string value. EVTX stores numbers, GUIDs, SIDs, booleans,
 * hex and times in binary and renders them as text only when asked, so a literal made only of characters
 * such renderings use (digits, hex, `-`, `:`, `true`, ...) may be absent from the raw record.
 */
function isTextOnly(literal: string): boolean {
  return !/^[0-9a-fx\-.+:tz {}srulniy]*$/.test(literal);
}
