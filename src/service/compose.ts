/**
 * The service core composed from parts chosen by configuration, one small function per part:
 *
 *   serviceStore      the store: given, or PostgreSQL (`store.url`) / SQLite in the data directory
 *   servicePipeline   the detection pipeline (rules, correlation config), rule errors told
 *   forwarders        alert forwarding destinations (`forward:`)
 *   responseRunner    the action runner (response workflows and forwards)
 *   coreParts         the above plus metrics, the suppression index and the alert feed
 *   localIngestor     the Ingestor of a node that detects and commits; its commits feed the alert feed, and
 *                     the forwards of the context updates it writes go in the same transaction (outbox)
 *   ingestSink        what the HTTP routes submit to, by `ingestMode(config)`: the local Ingestor, or (`nats:`)
 *                     the JetStream publisher given as an adapter, the alert feed then relaying the store's
 *                     notifications (a capability the store declares: AlertNotifier)
 *   composeService    all of it: a Service that front ends (HTTP, NATS) use through its interfaces
 *
 * The NATS and HTTP adapters are not imported here (they import this): the caller hands the JetStream sink
 * factory in (`IngestAdapters`); src/cli/startServer.ts is where serve's parts meet.
 */
import { createPipeline, type Pipeline } from '../pipeline.js';
import { openStore, type Store } from '../store/index.js';
import { ActionRunner } from '../respond/index.js';
import { Forwarder, forwardCounters } from '../forward/index.js';
import type { NatsConfig, ServeConfig } from './config.js';
import { Ingestor } from './ingest.js';
import { Metrics } from './metrics.js';
import { SuppressionIndex } from './suppress.js';
import { droppedLogLines } from './log.js';
import { AlertBroadcast, committedRow, relayStoreNotifications } from './alertFeed.js';
import { alertNotifier, type IngestSink, type RemoteIngestSink } from './ports.js';

type Notice = (line: string) => void;

/** The store the configuration names, unless one is given. */
export function serviceStore(config: ServeConfig, given?: Store): Store {
  return (
    given ??
    openStore({
      dataDir: config.dataDir,
      durability: config.durability,
      ...(config.store ? { url: config.store.url, ...(config.store.schema ? { schema: config.store.schema } : {}) } : {}),
    })
  );
}

/** The detection pipeline of the configured rules and correlation (unless one is given); rule errors are told. */
export async function servicePipeline(config: ServeConfig, notice: Notice, label: string, given?: Pipeline): Promise<Pipeline> {
  const pipeline =
    given ??
    (await createPipeline({
      rules: { paths: config.rules.paths, builtin: config.rules.builtin },
      ...(config.correlationConfig ? { correlation: { configPath: config.correlationConfig } } : {}),
    }));
  for (const e of pipeline.ruleErrors) notice(`${label}: rule ${e.source}${e.ruleId ? ` (${e.ruleId})` : ''}: ${e.reason}`);
  return pipeline;
}

/** The alert forwarding destinations; their sends, failures and dead letters counted in `metrics`. */
export function forwarders(config: ServeConfig, store: Store, metrics: Metrics): Forwarder {
  return new Forwarder(config.forwards, store, forwardCounters(metrics));
}

/** The action runner: response workflows and forward deliveries, outcomes and failures counted. */
export function responseRunner(config: ServeConfig, store: Store, forwarder: Forwarder, metrics: Metrics, notice: Notice, label: string): ActionRunner {
  return new ActionRunner({
    store,
    workflows: config.workflows,
    deliveries: forwarder.attempts(),
    ...(forwarder.runnerBatch() ? { batch: forwarder.runnerBatch()! } : {}),
    onOutcome: (kind, status) => metrics.actions.inc({ kind, status }),
    onError: (err) => {
      metrics.errors.inc({ component: 'respond' });
      notice(`${label}: response runner: ${err.message}`);
    },
  });
}

/** What every node of the service holds, whether it commits (serve, worker) or publishes (serve --nats). */
export interface CoreParts {
  config: ServeConfig;
  store: Store;
  pipeline: Pipeline;
  metrics: Metrics;
  suppressions: SuppressionIndex;
  /** Alerts committed and their later context, published by whoever commits (or relays the store's news). */
  feed: AlertBroadcast;
  forwarder: Forwarder;
  runner: ActionRunner;
  notice: Notice;
  /** How this node names itself in its notices (`procwatch`, `procwatch worker`). */
  label: string;
}

export interface CoreOptions {
  store: Store;
  notice: Notice;
  label: string;
  pipeline?: Pipeline;
}

export async function coreParts(config: ServeConfig, o: CoreOptions): Promise<CoreParts> {
  const { store, notice, label } = o;
  const pipeline = await servicePipeline(config, notice, label, o.pipeline);
  const metrics = new Metrics();
  const suppressions = new SuppressionIndex(await store.listSuppressions());
  const forwarder = forwarders(config, store, metrics);
  const runner = responseRunner(config, store, forwarder, metrics, notice, label);
  return { config, store, pipeline, metrics, suppressions, feed: new AlertBroadcast(), forwarder, runner, notice, label };
}

export interface LocalIngestOptions {
  /** Events waiting for commit before submit refuses (OverloadedError). */
  queueEvents: number;
  /** A commit failed (its batches are refused and retried): for the operator's log. */
  onCommitFailed?: (err: Error) => void;
}

/**
 * The Ingestor of a node that detects and commits. Its commits publish to the alert feed (created alerts, later
 * context), count suppression hits and wake the action runner; its context updates are forwarded.
 */
export function localIngestor(p: CoreParts, o: LocalIngestOptions): Ingestor {
  const { config, store, metrics, runner, forwarder, feed } = p;
  // Later states of stored alerts are forwarded through the outbox: the store writes their forward actions in
  // the transaction of the change (store/outbox.ts); the runner is woken once it is committed.
  const updateOutbox = forwarder.updateOutbox();
  const ingestor = new Ingestor({
    store,
    detector: p.pipeline,
    workflows: config.workflows,
    suppressions: p.suppressions,
    metrics,
    queueEvents: o.queueEvents,
    commitEvents: config.limits.commitEvents,
    expectedEvents: config.retention.maxEvents,
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    ...(forwarder.size > 0 ? { planMore: (a: Parameters<Forwarder['plan']>[0]) => forwarder.plan(a) } : {}),
    ...(updateOutbox ? { updateOutbox } : {}),
    onCommitted: (alerts, actionIds, hits) => {
      const now = Date.now();
      feed.publish({ kind: 'created', rows: alerts.map((a) => committedRow(a, now)) });
      for (const id of hits) store.countSuppressionHit(id).catch(() => metrics.errors.inc({ component: 'store' }));
      if (actionIds.length > 0) runner.kick();
    },
    // Later events completed a stored alert's tree/lifetime/evidence/extent: consoles showing it refresh; its
    // forwards were written with the change.
    onContextUpdated: (rows) => {
      feed.publish({ kind: 'updated', rows });
      if (rows.length > 0 && updateOutbox) runner.kick();
    },
    ...(o.onCommitFailed ? { onCommitFailed: o.onCommitFailed } : {}),
    onDetectionError: (err, ev) => {
      p.notice(`${p.label}: detection failed on ${ev.system.computer} ${ev.system.channel} record ${ev.system.recordId ?? '?'}: ${err.message}`);
      store
        .audit({
          actor: 'procwatch',
          action: 'detection.error',
          targetType: 'event',
          targetId: `${ev.system.computer}|${ev.system.channel}|${ev.system.recordId ?? ''}`,
          detail: { error: err.message },
        })
        .catch(() => metrics.errors.inc({ component: 'store' }));
    },
  });
  return ingestor;
}

/** Where ingested batches go, as the configuration says: detected and committed here, or published to JetStream. */
export type IngestMode = 'local' | 'jetstream';

export function ingestMode(config: ServeConfig): IngestMode {
  return config.nats ? 'jetstream' : 'local';
}

/** Sinks implemented outside the core, handed in by whoever composes the node (src/cli/startServer.ts). */
export interface IngestAdapters {
  jetstream?: (nats: NatsConfig, maxInflightEvents: number, notice: Notice) => Promise<RemoteIngestSink>;
}

export interface ChosenSink {
  mode: IngestMode;
  sink: IngestSink;
  /** The local Ingestor (mode `local`). */
  ingestor: Ingestor | undefined;
  /** Stops the sink once the front ends stopped: finishes what it holds, closes its connections. */
  close(): Promise<void>;
}

/**
 * The ingest sink for `ingestMode(config)`.
 *   local      the Ingestor: stored keys loaded, correlation state rebuilt from the retained events.
 *   jetstream  the adapter's publisher: workers detect and commit, so this node neither loads keys nor replays
 *              events; the alert feed relays what the store announces (the store must be an AlertNotifier).
 */
export async function ingestSink(p: CoreParts, adapters: IngestAdapters = {}): Promise<ChosenSink> {
  const { config, notice } = p;
  const mode = ingestMode(config);
  if (mode === 'jetstream') {
    const nats = config.nats!;
    const notifier = alertNotifier(p.store);
    if (!notifier) throw new Error('nats: the store does not announce committed alerts to other nodes (it needs the shared PostgreSQL store)');
    if (!adapters.jetstream) throw new Error('nats: no JetStream ingest adapter given to this node');
    const sink = await adapters.jetstream(nats, config.limits.queueEvents, notice);
    // Alerts are made by the workers then: stream the ones the store announces as committed.
    let unlisten: () => Promise<void>;
    try {
      unlisten = await relayStoreNotifications(notifier, p.feed, {
        onRead: () => p.metrics.errors.inc({ component: 'store' }),
        onListen: (err) => {
          p.metrics.errors.inc({ component: 'store' });
          notice(`${p.label}: alert notifications: ${err.message}`);
        },
      });
    } catch (err) {
      await sink.close();
      throw err;
    }
    return {
      mode,
      sink,
      ingestor: undefined,
      close: async () => {
        await unlisten();
        await sink.close();
      },
    };
  }
  const ingestor = localIngestor(p, {
    queueEvents: config.limits.queueEvents,
    onCommitFailed: everyTenSeconds((err, repeated) => notice(`${p.label}: ${err.message}; answering 503 (retry)${repeated > 0 ? ` (${repeated} more since the last report)` : ''}`)),
  });
  await ingestor.loadKeys();
  const replayed = await ingestor.warmUp();
  if (replayed > 0) notice(`${p.label}: correlation state rebuilt from ${replayed} retained events`);
  return { mode, sink: ingestor, ingestor, close: () => ingestor.drained() };
}

/** The service's own gauges (the HTTP adapter adds its own). */
export function serviceGauges(p: CoreParts, chosen: ChosenSink): void {
  const m = p.metrics;
  m.gauge('procwatch_queue_events', chosen.mode === 'jetstream' ? 'Events waiting for the JetStream acknowledgement.' : 'Events waiting for commit.', () => chosen.sink.depth);
  m.gauge('procwatch_queue_capacity_events', 'Queue bound (429 beyond).', () => p.config.limits.queueEvents);
  m.gauge('procwatch_rules_loaded', 'Rules loaded.', () => p.pipeline.rules.length);
  m.gauge('procwatch_extent_followed', 'certreq alerts whose extent later events update.', () => p.pipeline.correlator.extentStats()?.followed ?? 0);
  m.gauge('procwatch_extent_evicted', 'Followed certreq alerts and remembered destinations forgotten at their caps.', () => {
    const x = p.pipeline.correlator.extentStats();
    return x ? x.followedEvicted + x.destinationsEvicted + x.resolvedEvicted : 0;
  });
  m.gauge('procwatch_log_lines_dropped', 'Log lines lost to write failures (full disk, closed pipe).', () => droppedLogLines());
}

/** Retention: events older than `retention.hours` or beyond `retention.max_events` pruned every minute. */
export function startRetention(p: CoreParts): () => void {
  const { store, config, metrics } = p;
  const timer = setInterval(() => {
    store.pruneEvents(config.retention.hours * 3_600_000, config.retention.maxEvents).catch(() => metrics.errors.inc({ component: 'retention' }));
  }, 60_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** The composed service core of a serve node. */
export interface Service extends CoreParts {
  mode: IngestMode;
  sink: IngestSink;
  ingestor: Ingestor | undefined;
  /** Starts the action runner (call when the front ends are ready). */
  start(): Promise<void>;
  /** After the front ends stopped: finishes the sink's batches and the actions in flight, closes the store. */
  close(): Promise<void>;
}

export interface ServiceOptions {
  notice: Notice;
  store?: Store;
  pipeline?: Pipeline;
  adapters?: IngestAdapters;
}

export async function composeService(config: ServeConfig, o: ServiceOptions): Promise<Service> {
  const label = 'procwatch';
  const store = serviceStore(config, o.store);
  let parts: CoreParts;
  let chosen: ChosenSink;
  try {
    parts = await coreParts(config, { store, notice: o.notice, label, ...(o.pipeline ? { pipeline: o.pipeline } : {}) });
    chosen = await ingestSink(parts, o.adapters);
  } catch (err) {
    // A store this function opened is closed again (a given one stays its owner's).
    if (!o.store) await store.close().catch(() => o.notice(`${label}: the store did not close cleanly after a failed start`));
    throw err;
  }
  serviceGauges(parts, chosen);
  const stopRetention = startRetention(parts);
  let closed = false;
  return {
    ...parts,
    mode: chosen.mode,
    sink: chosen.sink,
    ingestor: chosen.ingestor,
    start: () => parts.runner.start(),
    async close() {
      if (closed) return;
      closed = true;
      stopRetention();
      await chosen.close();
      await parts.runner.stop();
      parts.forwarder.close();
      await store.close();
    },
  };
}

/**
 * At most one report per ten seconds, with how many were held back: a store that fails every commit (a full disk,
 * a database outage) is reported without flooding the log.
 */
export function everyTenSeconds(report: (err: Error, repeated: number) => void): (err: Error) => void {
  let last = 0;
  let held = 0;
  return (err) => {
    const now = Date.now();
    if (now - last < 10_000) {
      held++;
      return;
    }
    report(err, held);
    last = now;
    held = 0;
  };
}
