/** What the senders deliver and answer; the forwarder turns the answers into action outcomes. */
import type { Severity } from '../model/alert.js';

/** One alert (its current stored state) to send to one destination. */
export interface ForwardItem {
  alertId: string;
  ruleId: string;
  severity: Severity;
  host: string;
  /** The alert's event time (ISO 8601). */
  time: string;
  /** False the first time (a new alert), true for a later state of an alert already sent. */
  update: boolean;
  /** The ECS alert document with procwatch.state (status, assignee, ...) as stored now. */
  doc: Record<string, unknown>;
}

/** `final`: retrying cannot help (the receiver refused the content); the action is dead-lettered at once. */
export type DeliveryResult = { ok: true; detail?: Record<string, unknown> } | { ok: false; final: boolean; error: string; detail?: Record<string, unknown> };

export interface Delivery {
  deliver(item: ForwardItem): Promise<DeliveryResult>;
  /** Many items at once (one request per batch where the protocol allows): a result per item, in order. */
  deliverMany?(items: ForwardItem[]): Promise<DeliveryResult[]>;
  close(): void;
}
