/**
 * Prometheus metrics through prom-client, one registry per `Metrics` (a serve node's or a worker's): procwatch's
 * counters, histograms and gauges, and prom-client's default process, heap, GC and event-loop metrics.
 * The exposition is prom-client's text format (version 0.0.4).
 */
import { Counter as PromCounter, Gauge as PromGauge, Histogram as PromHistogram, Registry, collectDefaultMetrics } from 'prom-client';

type Labels = Record<string, string>;

/**
 * A counter with its label names declared (the exposition needs the label set up front). Labels are written in
 * name order, whatever the order a caller gives them in, so a series is always spelled the same way.
 */
class Counter {
  private readonly metric: PromCounter<string>;
  /** What `get` reads synchronously (prom-client's own read is asynchronous); incremented with the metric. */
  private readonly tally = new Map<string, number>();

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[] = []) {
    this.metric = new PromCounter({ name, help, labelNames: [...labelNames].sort(), registers: [registry] });
  }

  inc(labels: Labels = {}, by = 1): void {
    const ordered = inOrder(labels);
    this.metric.inc(ordered, by);
    const k = JSON.stringify(ordered);
    this.tally.set(k, (this.tally.get(k) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.tally.get(JSON.stringify(inOrder(labels))) ?? 0;
  }
}

class Histogram {
  private readonly metric: PromHistogram<string>;
  constructor(registry: Registry, name: string, help: string, buckets: number[]) {
    this.metric = new PromHistogram({ name, help, buckets, registers: [registry] });
  }
  observe(v: number): void {
    this.metric.observe(v);
  }
}

function inOrder(labels: Labels): Labels {
  const keys = Object.keys(labels);
  if (keys.length < 2) return labels;
  const out: Labels = {};
  for (const k of keys.sort()) out[k] = labels[k]!;
  return out;
}

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly registry = new Registry();
  readonly eventsReceived = this.counter('procwatch_events_received_total', 'Events decoded from ingest requests.');
  readonly eventsStored = this.counter('procwatch_events_stored_total', 'Events committed to the store (new).');
  readonly eventsDuplicate = this.counter('procwatch_events_duplicate_total', 'Events already stored (re-sent batches).');
  readonly decodeErrors = this.counter('procwatch_decode_errors_total', 'Malformed documents/lines rejected at ingest.');
  readonly alerts = this.counter('procwatch_alerts_total', 'Alerts created, by severity.', ['severity']);
  readonly alertsSuppressed = this.counter('procwatch_alerts_suppressed_total', 'Alerts created but suppressed.');
  readonly requests = this.counter('procwatch_http_requests_total', 'HTTP requests by route and status code.', ['route', 'code']);
  readonly rejected = this.counter('procwatch_ingest_rejected_total', 'Ingest requests answered 429 (queue full).');
  readonly errors = this.counter('procwatch_errors_total', 'Internal errors by component.', ['component']);
  readonly actions = this.counter('procwatch_actions_total', 'Response action outcomes by kind and status.', ['kind', 'status']);
  readonly forwardSent = this.counter('procwatch_forward_sent_total', 'Alerts (and alert updates) forwarded, by destination.', ['destination']);
  readonly forwardFailed = this.counter('procwatch_forward_failed_total', 'Failed forwarding attempts, by destination.', ['destination']);
  readonly forwardDeadLetter = this.counter('procwatch_forward_dead_letter_total', 'Forwards given up (dead letter), by destination.', ['destination']);
  readonly contextUpdates = this.counter('procwatch_alert_context_updates_total', 'Stored alerts whose tree/lifetime/evidence/extent later events updated.');
  readonly commitSeconds = new Histogram(this.registry, 'procwatch_commit_seconds', 'Time of one store transaction (detection included).', SECONDS);
  readonly ingestSeconds = new Histogram(this.registry, 'procwatch_ingest_latency_seconds', 'Ingest request received to batch committed.', SECONDS);

  constructor() {
    // process_cpu_*, process_resident_memory_bytes, nodejs_heap_*, nodejs_gc_duration_seconds, nodejs_eventloop_lag_*.
    collectDefaultMetrics({ register: this.registry });
  }

  private counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return new Counter(this.registry, name, help, labelNames);
  }

  /** A gauge read when scraped. */
  gauge(name: string, help: string, read: () => number): void {
    new PromGauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** The exposition's Content-Type. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
