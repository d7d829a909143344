/**
 * The alert feed: one broadcast of alert changes that SSE and forwarding subscribe to, fed either by this
 * node's commits (the Ingestor's callbacks) or, when other processes commit (serve --nats), by the store's
 * notifications.
 */
import type { AlertRow, NewAlert } from '../store/types.js';
import type { AlertChange, AlertFeed, AlertNotifier } from './ports.js';

export class AlertBroadcast implements AlertFeed {
  private readonly listeners = new Set<(change: AlertChange) => void>();

  subscribe(listener: (change: AlertChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  publish(change: AlertChange): void {
    if (change.rows.length === 0) return;
    for (const listener of this.listeners) listener(change);
  }
}

/** The stored row of an alert its commit just created (open, unassigned). */
export function committedRow(a: NewAlert, now = Date.now()): AlertRow {
  return {
    ...a,
    status: 'open',
    assignee: null,
    statusReason: null,
    user: a.user ?? null,
    incidentId: a.incidentId ?? null,
    createdAt: now,
    updatedAt: now,
  };
}

export interface RelayErrors {
  /** Reading the announced alerts failed (they are not streamed). */
  onRead(err: Error): void;
  /** The notification connection failed (the store reconnects). */
  onListen(err: Error): void;
}

/**
 * Feeds `feed` with the alerts the store announces as committed or updated by any process; returns the
 * function that stops listening.
 */
export function relayStoreNotifications(store: AlertNotifier, feed: AlertBroadcast, errors: RelayErrors): Promise<() => Promise<void>> {
  const relay =
    (kind: AlertChange['kind']) =>
    (ids: string[]): void => {
      store.getAlerts(ids).then((rows) => feed.publish({ kind, rows }), (err: Error) => errors.onRead(err));
    };
  return store.onAlerts(relay('created'), (err) => errors.onListen(err), relay('updated'));
}
