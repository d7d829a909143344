/**
 * `procwatch serve`: the live service (HTTP ingest, detection, store, API, console, response workflows).
 * Runs until SIGINT/SIGTERM, then finishes the commits and actions in flight and exits 0.
 */
import type { Command } from 'commander';
import { ConfigError, loadServeConfig, type CliServeOptions } from '../service/config.js';
import { EXIT_OK, EXIT_USAGE, type SetExit } from './exit.js';
import { containStdioErrors, safeWrite } from '../service/log.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerServe(program: Command, setExit: SetExit): void {
  program
    .command('serve')
    .description('run the detection service: HTTP ingest (/ingest, Elasticsearch _bulk, Splunk HEC), store, REST API, web console, response workflows')
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .option('--port <port>', 'port to listen on (default 8088; 0 = any free port)')
    .option('--data <dir>', 'data directory (SQLite store, generated token) (default ./procwatch-data)')
    .option('--token <token>', 'API/ingest token (or PROCWATCH_TOKEN); generated into the data directory when none is given')
    .option('-c, --config <file>', 'YAML config: limits, retention, TLS, rules, correlation, response workflows')
    .option('-r, --rules <path>', 'Sigma rule file or directory (repeatable)', collect, [])
    .option('--no-builtin', 'do not load the built-in rules')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--store <url>', 'shared PostgreSQL store (postgres://user@host:port/db[?schema=NAME]) instead of SQLite in --data')
    .option('--nats <url>', 'scale-out: publish decoded batches to NATS JetStream (nats://host:4222) for `procwatch worker`s; needs --store')
    .option('--nats-stream <name>', 'JetStream stream name (default procwatch)')
    .option('--partition-count <n>', 'host partitions of a new stream (default 8; an existing stream keeps its own)')
    .action(async (opts: CliServeOptions) => {
      containStdioErrors(); // a full disk or closed pipe under stderr must not end the service
      let config;
      try {
        config = loadServeConfig(opts);
      } catch (err) {
        if (err instanceof ConfigError) {
          safeWrite(`procwatch serve: ${err.message}\n`);
          setExit(EXIT_USAGE);
          return;
        }
        throw err;
      }
      const unreadable = await unreadableRulePaths(config.rules.paths);
      if (unreadable.length > 0) {
        // A service running without the rules it was given would look healthy and detect nothing.
        cannotStart(`rules path ${unreadable.join(', ')}`, setExit);
        return;
      }
      let server;
      try {
        // Loaded here, not at the top: the server's dependencies (Fastify, SQLite, PostgreSQL, NATS) would
        // otherwise add a third of a second to every other command's start-up (measured).
        const { startServer } = await import('./startServer.js');
        server = await startServer(config);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        cannotStart(e.code === 'EADDRINUSE' ? `${config.host}:${config.port} is in use` : e.message, setExit);
        return;
      }
      safeWrite(
        `procwatch serve: listening on ${server.url} (${config.nats ? `JetStream ${config.nats.url}, ` : ''}${config.store ? `store ${redactUrl(config.store.url)}` : `data ${config.dataDir}`}, ${server.pipeline.rules.length} rules, ${config.workflows.length} workflows)\n` +
          `  console ${server.url}/console/  ingest ${server.url}/ingest  Elasticsearch ${server.url}  Splunk HEC ${server.url}/services/collector/event\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          safeWrite('procwatch serve: shutting down\n');
          server.close().then(resolve, (err: Error) => {
            safeWrite(`procwatch serve: ${err.message}\n`);
            resolve();
          });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      setExit(EXIT_OK);
    });
}

/**
 * Reports why serve cannot start and ends the process with status 2. The exit is forced: a start that failed
 * half-way (store opened, timers or pools started, then the port refused) leaves handles that would otherwise
 * keep the process alive doing nothing, which a supervisor cannot tell from a healthy service.
 */
function cannotStart(reason: string, setExit: SetExit): void {
  safeWrite(`procwatch serve: cannot start: ${reason}\n`);
  setExit(EXIT_USAGE);
  process.exitCode = EXIT_USAGE;
  // Unref'd: when nothing else is left the process ends by itself, with the same status.
  setTimeout(() => process.exit(EXIT_USAGE), 200).unref();
}

/** Rule paths (from --rules or the config) that cannot be read, each with the reason. */
async function unreadableRulePaths(paths: readonly string[]): Promise<string[]> {
  const { access, constants } = await import('node:fs/promises');
  const out: string[] = [];
  for (const p of paths) {
    try {
      await access(p, constants.R_OK);
    } catch (err) {
      out.push(`${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return out;
}

/** A URL for logs: the password, if any, masked. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
