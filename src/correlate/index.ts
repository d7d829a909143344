/**
 * Correlation and triage: detections + the surrounding events → enriched alerts (severity, reason, certreq
 * intent, process tree, lifetime, incidents, suppressions). PLACEHOLDER (owner: correlate). Keep the signatures.
 */
import type { Alert, Detection } from '../model/alert.js';
import type { WinEvent } from '../model/event.js';
import { eventKey } from '../model/event.js';
import { toProcessEvent } from '../model/toProcess.js';
import { createHash } from 'node:crypto';

export interface CorrelatorOptions {
  /** Path of a YAML config with suppressions and incident settings (optional). */
  configPath?: string;
}

export class Correlator {
  constructor(_options: CorrelatorOptions = {}) {}

  /** Every decoded event passes through here (process index, terminations, network/file evidence). */
  observe(_event: WinEvent): void {}

  /** Turns the detections of one event into alerts (one per rule), with whatever context is known now. */
  alertsFor(event: WinEvent, detections: Detection[]): Alert[] {
    const matchedRules = detections.map((d) => d.rule.id);
    const process = toProcessEvent(event);
    return detections.map((d) => ({
      id: createHash('sha256').update(`${d.rule.id}|${eventKey(event)}`).digest('hex').slice(0, 32),
      rule: d.rule,
      event,
      ...(process ? { process } : {}),
      matchedRules,
    }));
  }

  /** Recomputes context that later events may have changed (tree, lifetime, incident) — call before output. */
  finalize(alerts: Alert[]): Alert[] {
    return alerts;
  }
}
