/**
 * Prometheus metrics in the text exposition format (version 0.0.4). A handful of counters, gauges and
 * histograms is all the service needs; the format is small enough to write directly.
 */
type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${labels[k]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

class Counter {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k} ${v}`);
    return lines.join('\n');
  }
}

class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly read: () => number,
  ) {}
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${this.read()}`].join('\n');
  }
}

class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) this.counts[i]!++;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly eventsReceived = new Counter('procwatch_events_received_total', 'Events decoded from ingest requests.');
  readonly eventsStored = new Counter('procwatch_events_stored_total', 'Events committed to the store (new).');
  readonly eventsDuplicate = new Counter('procwatch_events_duplicate_total', 'Events already stored (re-sent batches).');
  readonly decodeErrors = new Counter('procwatch_decode_errors_total', 'Malformed documents/lines rejected at ingest.');
  readonly alerts = new Counter('procwatch_alerts_total', 'Alerts created, by severity.');
  readonly alertsSuppressed = new Counter('procwatch_alerts_suppressed_total', 'Alerts created but suppressed.');
  readonly requests = new Counter('procwatch_http_requests_total', 'HTTP requests by route and status code.');
  readonly rejected = new Counter('procwatch_ingest_rejected_total', 'Ingest requests answered 429 (queue full).');
  readonly errors = new Counter('procwatch_errors_total', 'Internal errors by component.');
  readonly actions = new Counter('procwatch_actions_total', 'Response action outcomes by kind and status.');
  readonly forwardSent = new Counter('procwatch_forward_sent_total', 'Alerts (and alert updates) forwarded, by destination.');
  readonly forwardFailed = new Counter('procwatch_forward_failed_total', 'Failed forwarding attempts, by destination.');
  readonly forwardDeadLetter = new Counter('procwatch_forward_dead_letter_total', 'Forwards given up (dead letter), by destination.');
  readonly contextUpdates = new Counter('procwatch_alert_context_updates_total', 'Stored alerts whose tree/lifetime/evidence later events updated.');
  readonly commitSeconds = new Histogram('procwatch_commit_seconds', 'Time of one store transaction (detection included).', SECONDS);
  readonly ingestSeconds = new Histogram('procwatch_ingest_latency_seconds', 'Ingest request received to batch committed.', SECONDS);
  private readonly gauges: Gauge[] = [];

  gauge(name: string, help: string, read: () => number): void {
    this.gauges.push(new Gauge(name, help, read));
  }

  render(): string {
    const parts = [
      this.eventsReceived, this.eventsStored, this.eventsDuplicate, this.decodeErrors, this.alerts, this.alertsSuppressed,
      this.requests, this.rejected, this.errors, this.actions, this.forwardSent, this.forwardFailed, this.forwardDeadLetter, this.contextUpdates, this.commitSeconds, this.ingestSeconds, ...this.gauges,
    ].map((m) => m.render());
    return `${parts.join('\n')}\n`;
  }
}
