/**
 * `procwatch worker`: the detection side of scale-out. Pulls the event batches that `serve --nats` published
 * to JetStream (its partitions), detects, correlates, commits to the shared PostgreSQL store, acknowledges,
 * and runs the response actions it planned. Runs until SIGINT/SIGTERM, then finishes the batches in hand.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { ConfigError, loadServeConfig, type CliServeOptions } from '../service/config.js';
import { EXIT_OK, EXIT_USAGE, type SetExit } from './exit.js';
import { redactUrl } from './serve.js';
import { containStdioErrors } from '../service/log.js';
import type { EventWorker } from '../distribute/worker.js';

interface CliWorkerOptions extends Pick<CliServeOptions, 'config' | 'rules' | 'builtin' | 'store' | 'nats' | 'natsStream' | 'partitionCount'> {
  partitions?: string;
  ackWait?: string;
  metrics?: string;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerWorker(program: Command, setExit: SetExit): void {
  program
    .command('worker')
    .description('scale-out worker: pull event batches from NATS JetStream (published by `serve --nats`), detect, store in PostgreSQL, run responses')
    .option('--nats <url>', 'NATS server with JetStream (nats://host:4222), or nats.url in the config')
    .option('--store <url>', 'the shared PostgreSQL store (postgres://user@host:port/db[?schema=NAME]), or store.url in the config')
    .option('--nats-stream <name>', 'JetStream stream name (default procwatch)')
    .option('--partition-count <n>', 'host partitions, when this worker creates the stream (default 8; must match an existing stream)')
    .option('--partitions <list>', 'partitions this worker consumes, e.g. 0,1 or 0-3 (default all)')
    .option('--ack-wait <ms>', 'redelivery delay of a batch whose worker died (default 30000)')
    .option('--metrics <[host:]port>', 'serve Prometheus metrics on http://host:port/metrics (host default 127.0.0.1; port 0 = any)')
    .option('-c, --config <file>', 'the YAML config shared with serve (rules, correlation, retention, response workflows, store, nats)')
    .option('-r, --rules <path>', 'Sigma rule file or directory (repeatable)', collect, [])
    .option('--no-builtin', 'do not load the built-in rules')
    .action(async (opts: CliWorkerOptions) => {
      containStdioErrors(); // a full disk or closed pipe under stderr must not end the worker
      const fail = (message: string): void => {
        process.stderr.write(`procwatch worker: ${message}\n`);
        setExit(EXIT_USAGE);
      };
      let config;
      let metricsAt: { host: string; port: number } | undefined;
      try {
        config = loadServeConfig(opts);
        if (opts.metrics !== undefined) metricsAt = listenAddress(opts.metrics);
        if (opts.ackWait !== undefined) {
          const ms = Number(opts.ackWait);
          if (!Number.isInteger(ms) || ms < 1000) throw new ConfigError('--ack-wait: expected milliseconds >= 1000');
          if (config.nats) config.nats.ackWaitMs = ms;
        }
      } catch (err) {
        if (err instanceof ConfigError) return fail(err.message);
        throw err;
      }
      if (!config.nats) return fail('needs --nats nats://host:4222 (or nats.url in the config)');
      if (!config.store) return fail('needs --store postgres://... (or store.url in the config)');
      // Loaded here, not at the top, so other commands do not pay for the store and broker clients (see serve.ts).
      const [{ openStore }, { EventWorker: EventWorkerImpl }] = await Promise.all([import('../store/index.js'), import('../distribute/worker.js')]);
      const store = openStore({ dataDir: config.dataDir, url: config.store.url, ...(config.store.schema ? { schema: config.store.schema } : {}) });
      let worker: EventWorker;
      try {
        await store.counts(); // connects and migrates: a wrong URL fails here, clearly
        worker = await EventWorkerImpl.start({
          config,
          nats: config.nats,
          store,
          ...(opts.partitions ? { partitions: opts.partitions } : {}),
          ...faultInjection(process.env.PROCWATCH_WORKER_FAULT),
        });
      } catch (err) {
        await store.close().catch(() => {});
        return fail(`cannot start: ${(err as Error).message}`);
      }
      let metricsServer: Server | undefined;
      if (metricsAt) {
        try {
          metricsServer = await serveMetrics(worker, metricsAt);
          const a = metricsServer.address() as AddressInfo;
          process.stderr.write(`procwatch worker: metrics on http://${metricsAt.host.includes(':') ? `[${metricsAt.host}]` : metricsAt.host}:${a.port}/metrics\n`);
        } catch (err) {
          await worker.stop();
          await store.close();
          return fail(`cannot serve metrics on ${metricsAt.host}:${metricsAt.port}: ${(err as Error).message}`);
        }
      }
      process.stderr.write(
        `procwatch worker: consuming partitions ${worker.partitions.join(',')} of ${worker.partitionCount} from ${config.nats.url} stream ${config.nats.stream}; ` +
          `store ${redactUrl(config.store.url)}; ${worker.pipeline.rules.length} rules, ${config.workflows.length} workflows\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          process.stderr.write('procwatch worker: shutting down\n');
          new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()))
            .then(() => worker.stop())
            .then(() => store.close())
            .then(resolve, (err: Error) => {
              process.stderr.write(`procwatch worker: ${err.message}\n`);
              resolve();
            });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      const s = worker.stats;
      process.stderr.write(
        `procwatch worker: stopped after ${s.messages} batches, ${s.events} events (${s.stored} new, ${s.duplicates} duplicates), ${s.alerts} alerts, ${s.redelivered} redelivered, ${s.failed} failed\n`,
      );
      setExit(EXIT_OK);
    });
}

/**
 * Test-only fault: `crash-before-ack:N` kills this process (SIGKILL, no clean-up) right after the N-th batch
 * committed and before JetStream hears the ack — the window the redelivery + de-duplication design covers.
 */
function faultInjection(spec: string | undefined): { afterCommit?: (n: number) => void } {
  const m = /^crash-before-ack:(\d+)$/.exec(spec ?? '');
  if (!m) return {};
  const at = Number(m[1]);
  return {
    afterCommit: (n) => {
      if (n >= at) process.kill(process.pid, 'SIGKILL');
    },
  };
}

function listenAddress(spec: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(spec);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`--metrics: expected [host:]port, got "${spec}"`);
  return { host: m[1] || '127.0.0.1', port };
}

/** A minimal HTTP endpoint: GET /metrics in the Prometheus text format, 404 for anything else. */
function serveMetrics(worker: EventWorker, at: { host: string; port: number }): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      worker.metrics.render().then(
        (text) => res.writeHead(200, { 'content-type': worker.metrics.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics: ${err.message}\n`),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => resolve(server));
  });
}
