/**
 * The detection pipeline shared by `scan` and `serve`: normalised events → rule engine → alerts (with
 * correlation context). Sources and sinks stay outside: callers feed WinEvents and take Alerts.
 */
import type { Alert, Detection } from './model/alert.js';
import type { WinEvent } from './model/event.js';
import { loadRules, type LoadRulesOptions, type RuleLoadError, type LoadedRule } from './rules/index.js';
import { compileEngine, type Engine, type EngineWarning } from './engine/index.js';
import { Correlator, type ContextUpdate, type CorrelatorOptions } from './correlate/index.js';

export interface PipelineOptions {
  rules: LoadRulesOptions;
  correlation?: CorrelatorOptions;
}

export interface Pipeline {
  readonly rules: LoadedRule[];
  readonly engine: Engine;
  readonly correlator: Correlator;
  /** Rules that failed to load, and per-rule engine warnings, for the caller to report. */
  readonly ruleErrors: RuleLoadError[];
  readonly warnings: EngineWarning[];
  /** Feeds one event; returns the alerts it raises now (one per matching rule). `raise(e, observe(e))`. */
  handle(event: WinEvent): Alert[];
  /**
   * Feeds an event no rule can match (a DecodeItem marked contextOnly: it holds none of the prefilter literals)
   * to correlation alone: the same as `handle` for such an event, without the rule engine.
   */
  context(event: WinEvent): void;
  /** Feeds the event to the process index and the rule engine (correlation windows); returns the detections. */
  observe(event: WinEvent): Detection[];
  /** The alerts of an observed event's detections (candidates inside begin/confirm, see Correlator). */
  raise(event: WinEvent, detections: Detection[]): Alert[];
  /** Alerts made from now on are candidates of one commit ... */
  begin(): void;
  /** ... whose success keeps them (de-duplication memory, incidents, followed alerts) ... */
  confirm(): void;
  /** ... or whose failure undoes them. */
  rollback(): void;
  /** End of input: alerts of correlation rules still pending. */
  flush(): Alert[];
  /** Alerts whose process tree, lifetime or evidence later events changed (live use; see Correlator). */
  takeContextUpdates(): ContextUpdate[];
}

export async function createPipeline(options: PipelineOptions): Promise<Pipeline> {
  const loaded = await loadRules(options.rules);
  const engine = compileEngine(loaded.rules);
  const correlator = new Correlator(options.correlation ?? {});
  const observe = (event: WinEvent): Detection[] => {
    correlator.observe(event);
    return engine.match(event);
  };
  const raise = (event: WinEvent, detections: Detection[]): Alert[] =>
    detections.length === 0 ? [] : correlator.alertsFor(event, detections);
  return {
    rules: loaded.rules,
    engine,
    correlator,
    ruleErrors: loaded.errors,
    warnings: engine.warnings,
    handle: (event: WinEvent): Alert[] => raise(event, observe(event)),
    context: (event: WinEvent): void => correlator.observe(event),
    observe,
    raise,
    begin: () => correlator.begin(),
    confirm: () => correlator.confirm(),
    rollback: () => correlator.rollback(),
    flush(): Alert[] {
      const pending = engine.flush();
      const alerts: Alert[] = [];
      // Correlation-rule detections refer to the event that completed them; group per event.
      const byEvent = new Map<WinEvent, typeof pending>();
      for (const d of pending) {
        const list = byEvent.get(d.event) ?? [];
        list.push(d);
        byEvent.set(d.event, list);
      }
      for (const [event, detections] of byEvent) alerts.push(...correlator.alertsFor(event, detections));
      return alerts;
    },
    takeContextUpdates(): ContextUpdate[] {
      return correlator.takeContextUpdates();
    },
  };
}
