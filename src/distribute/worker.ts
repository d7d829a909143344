/**
 * The worker side of scale-out: pulls decoded batches of its partitions from JetStream, runs the detection
 * pipeline (rules, correlation, suppressions, response planning — the same Ingestor as `serve`), commits to
 * the shared store and acknowledges each message only after its transaction committed.
 *
 *   JetStream  ─ partition p consumer (max 1 unacked) ─┐
 *   JetStream  ─ partition q consumer (max 1 unacked) ─┼→ Ingestor (group commit) → PostgreSQL → ack
 *
 * A crash between commit and ack makes JetStream redeliver after ack_wait; the events are then known to the
 * store and nothing is detected or stored twice (alert, action and event ids are unique in the store). A
 * failed commit (PostgreSQL unreachable) naks the message; the Ingestor rolled its alerts back, so the
 * redelivery raises them again. In
 * flight per worker: at most one message (≤ max_payload) per owned partition. While a batch is being
 * worked on, the worker tells JetStream it is alive (`working()`), so slow commits are not redelivered.
 */
import { connect, type Consumer, type JsMsg, type NatsConnection } from 'nats';
import type { Pipeline } from '../pipeline.js';
import type { Store } from '../store/types.js';
import type { WinEvent } from '../model/event.js';
import type { ActionRunner } from '../respond/index.js';
import { createLogger, noticeTo } from '../service/logger.js';
import type { Ingestor } from '../service/ingest.js';
import type { Metrics } from '../service/metrics.js';
import type { NatsConfig, ServeConfig } from '../service/config.js';
import { coreParts, localIngestor } from '../service/compose.js';
import { decodeBatch } from './codec.js';
import { parsePartitionList, partitionOf } from './partition.js';
import { consumerFor, ensureConsumer, ensureStream } from './stream.js';

export interface WorkerOptions {
  config: ServeConfig;
  nats: NatsConfig;
  store: Store;
  /** Partitions to consume (`0,1,4-7`); default all. */
  partitions?: string;
  notice?: (line: string) => void;
  /** How often API-made suppressions are re-read from the store. */
  suppressionRefreshMs?: number;
  /**
   * Fault injection for crash tests: called after a batch committed and before it is acknowledged, with the
   * number of batches committed so far (the CLI wires PROCWATCH_WORKER_FAULT=crash-before-ack:N to it).
   */
  afterCommit?: (committed: number) => void;
}

export interface WorkerStats {
  messages: number;
  events: number;
  stored: number;
  duplicates: number;
  alerts: number;
  redelivered: number;
  failed: number;
}

export class EventWorker {
  readonly stats: WorkerStats = { messages: 0, events: 0, stored: 0, duplicates: 0, alerts: 0, redelivered: 0, failed: 0 };
  private stopping = false;
  private inFlight = 0;
  private backlog = 0;
  private loops: Promise<void>[] = [];
  private timers: NodeJS.Timeout[] = [];

  private constructor(
    private readonly o: WorkerOptions,
    private readonly nc: NatsConnection,
    private readonly ingestor: Ingestor,
    private readonly runner: ActionRunner,
    /** Prometheus metrics: the Ingestor's (events, alerts, commit time, errors) and the worker's gauges. */
    readonly metrics: Metrics,
    readonly pipeline: Pipeline,
    readonly partitions: number[],
    readonly partitionCount: number,
    private readonly notice: (line: string) => void,
  ) {}

  static async start(o: WorkerOptions): Promise<EventWorker> {
    const notice = o.notice ?? noticeTo(createLogger('procwatch-worker'));
    const { config, store, nats } = o;
    const nc = await connect({ servers: nats.url, name: 'procwatch-worker', maxReconnectAttempts: -1 }).catch((err: Error) => {
      throw new Error(`NATS ${nats.url}: ${err.message}`);
    });
    try {
      const jsm = await nc.jetstreamManager();
      const count = await ensureStream(jsm, { stream: nats.stream, maxBytes: nats.maxBytes, ...(nats.partitions !== undefined ? { partitions: nats.partitions } : {}) });
      const own = o.partitions ? parsePartitionList(o.partitions, count) : Array.from({ length: count }, (_, i) => i);

      // The same core as serve's local ingest: detection, commit, suppressions, responses. Workers make the
      // alerts, so they queue and deliver their forwards too (any node may run any action).
      const core = await coreParts(config, { store, notice, label: 'procwatch worker' });
      const { pipeline, metrics, suppressions, runner } = core;
      // In-flight work is bounded by the consumers (one message per partition), not by this queue.
      const ingestor = localIngestor(core, { queueEvents: Number.MAX_SAFE_INTEGER });
      await ingestor.loadKeys();
      const worker = new EventWorker(o, nc, ingestor, runner, metrics, pipeline, own, count, notice);
      worker.registerGauges();
      const replayed = await worker.warmUp();
      if (replayed > 0) notice(`procwatch worker: correlation state rebuilt from ${replayed} retained events of partitions ${own.join(',')}`);
      const consumers: Consumer[] = [];
      for (const p of own) {
        const name = await ensureConsumer(jsm, nats.stream, p, nats.ackWaitMs);
        consumers.push(await nc.jetstream().consumers.get(nats.stream, name));
      }
      await runner.start();
      worker.loops = consumers.map((c, i) => worker.consume(own[i]!, c));
      const refresh = setInterval(() => {
        store.listSuppressions().then((list) => suppressions.replace(list), (err: Error) => notice(`procwatch worker: reading suppressions: ${err.message}`));
      }, o.suppressionRefreshMs ?? 10_000);
      refresh.unref();
      // Backlog of the owned partitions (messages not yet delivered + delivered but unacknowledged), for /metrics.
      const lag = setInterval(() => {
        Promise.all(own.map((p) => jsm.consumers.info(nats.stream, consumerFor(nats.stream, p)))).then(
          (infos) => (worker.backlog = infos.reduce((n, i) => n + i.num_pending + i.num_ack_pending, 0)),
          () => {},
        );
      }, 5000);
      lag.unref();
      worker.timers.push(refresh, lag);
      return worker;
    } catch (err) {
      await nc.close().catch(() => {});
      throw err;
    }
  }

  private registerGauges(): void {
    const m = this.metrics;
    m.gauge('procwatch_worker_partitions', 'Partitions this worker consumes.', () => this.partitions.length);
    m.gauge('procwatch_worker_batches_in_flight', 'Batches pulled and not yet acknowledged.', () => this.inFlight);
    m.gauge('procwatch_worker_backlog_messages', 'Messages of the owned partitions waiting or unacknowledged (refreshed every 5 s).', () => this.backlog);
    m.gauge('procwatch_worker_batches_acked', 'Batches committed and acknowledged since start.', () => this.stats.messages);
    m.gauge('procwatch_worker_batches_redelivered', 'Batches received again after a failed or unacknowledged delivery.', () => this.stats.redelivered);
    m.gauge('procwatch_worker_batches_failed', 'Batches not committed (retried) or dropped as undecodable.', () => this.stats.failed);
  }

  /**
   * Feeds the retained events of this worker's hosts to correlation (process trees, ongoing incidents) and
   * stores the alerts they raise that the store lacks (see Ingestor.warmUp).
   */
  private async warmUp(): Promise<number> {
    const own = new Set(this.partitions);
    return this.ingestor.warmUp((rec) => own.has(partitionOf(rec.host, this.partitionCount)));
  }

  private async consume(partition: number, consumer: Consumer): Promise<void> {
    while (!this.stopping) {
      let m: JsMsg | null;
      try {
        m = await consumer.next({ expires: 1000 });
      } catch (err) {
        if (this.stopping) return;
        this.notice(`procwatch worker: partition ${partition}: pull failed: ${(err as Error).message}; retrying`);
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (m) await this.handle(partition, m);
    }
  }

  private async handle(partition: number, m: JsMsg): Promise<void> {
    let events: WinEvent[];
    try {
      events = decodeBatch(m.data);
    } catch (err) {
      // Redelivering an undecodable message would loop forever: take it out, loudly.
      this.stats.failed++;
      this.notice(`procwatch worker: partition ${partition} message ${m.seq}: dropped, not a procwatch batch: ${(err as Error).message}`);
      m.term();
      return;
    }
    if (m.redelivered) this.stats.redelivered++;
    this.inFlight++;
    const alive = setInterval(() => m.working(), Math.max(500, Math.floor(this.o.nats.ackWaitMs / 3)));
    try {
      const r = await this.ingestor.submit(events);
      this.o.afterCommit?.(this.stats.messages + 1);
      // Acknowledged only now that the transaction committed; ackAck waits for the server to confirm.
      await m.ackAck();
      this.stats.messages++;
      this.stats.events += r.received;
      this.stats.stored += r.stored;
      this.stats.duplicates += r.duplicates;
      this.stats.alerts += r.alerts;
    } catch (err) {
      this.stats.failed++;
      this.notice(`procwatch worker: partition ${partition} message ${m.seq}: not committed, will be redelivered: ${(err as Error).message}`);
      m.nak(2000);
    } finally {
      clearInterval(alive);
      this.inFlight--;
    }
  }

  /** Stops pulling, finishes the batches in hand (commit + ack), stops the action runner, closes NATS. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all(this.loops);
    await this.ingestor.drained();
    await this.runner.stop();
    if (!this.nc.isClosed()) await this.nc.drain();
  }
}
