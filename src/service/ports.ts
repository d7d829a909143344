/**
 * The service core's interfaces: what its front ends (HTTP in src/server, NATS in src/distribute) use and
 * implement. They import these, never each other.
 *
 *   HTTP routes ──submit──▶ IngestSink ◀── Ingestor (local: detect + commit)  |  JetStreamPublisher (scale-out)
 *   SSE, forwarding ◀──── AlertFeed  ◀── the Ingestor's commits              |  the store's alert notifications
 */
import type { WinEvent } from '../model/event.js';
import type { AlertRow, Store } from '../store/types.js';

/** What one submitted batch came to. */
export interface BatchOutcome {
  received: number;
  stored: number;
  duplicates: number;
  alerts: number;
}

/**
 * What accepts decoded batches: resolves once the batch is durable (committed to the store, or stored by
 * JetStream), rejects with OverloadedError when full, with another error when the batch was not taken (retry).
 */
export interface IngestSink {
  /** `receivedAt`: performance.now() time of arrival; `keys`: the events' storedKey values when already known. */
  submit(events: WinEvent[], receivedAt?: number, keys?: readonly string[]): Promise<BatchOutcome>;
  /** True when a new batch would be refused; checked before reading a body, to shed load early. */
  full(): boolean;
  /** Events taken and not yet durable. */
  readonly depth: number;
  /** Resolves when everything taken so far is durable. */
  drained(): Promise<void>;
}

/** A sink that holds a connection of its own (closed after the front ends stopped). */
export interface RemoteIngestSink extends IngestSink {
  close(): Promise<void>;
}

/** Alerts stored (`created`) or whose stored document changed (`updated`: status, later context). */
export interface AlertChange {
  kind: 'created' | 'updated';
  rows: AlertRow[];
}

/** What SSE and forwarding subscribe to: the alerts this service sees committed, as they are. */
export interface AlertFeed {
  /** Calls `listener` with every change from now on; returns the function that stops it. */
  subscribe(listener: (change: AlertChange) => void): () => void;
}

/** The part of the store the ingest path uses (see Store for each method). */
export type IngestStore = Pick<
  Store,
  'eventKeys' | 'legacyKeysRetained' | 'knownKeys' | 'knownLegacyKeys' | 'retainedEvents' | 'commit' | 'updateAlertContexts'
>;

/**
 * A store that announces committed alerts to other processes (PostgreSQL LISTEN/NOTIFY): what lets a node that
 * does not commit (serve --nats) stream the alerts the workers make.
 */
export interface AlertNotifier {
  /** Listens for ids of alerts committed (`created`) and of alerts whose context a commit updated (`updated`). */
  onAlerts(created: (ids: string[]) => void, onError?: (err: Error) => void, updated?: (ids: string[]) => void): Promise<() => Promise<void>>;
  getAlerts(ids: string[]): Promise<AlertRow[]>;
}

/** The store's notification capability, when it declares one (its `onAlerts` and `getAlerts` members). */
export function alertNotifier(store: Store): (Store & AlertNotifier) | undefined {
  const s = store as Store & Partial<AlertNotifier>;
  return typeof s.onAlerts === 'function' && typeof s.getAlerts === 'function' ? (s as Store & AlertNotifier) : undefined;
}
