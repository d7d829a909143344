/**
 * `procwatch scan`: hunt over files. Sources → decoders → pipeline (rules, correlation) → output.
 * Alerts are collected and finalised at the end of input (process trees, lifetimes and incidents need
 * events that come later in the files); events themselves are streamed, never held.
 */
import { createWriteStream } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createRequire } from 'node:module';
import type { SingleBar } from 'cli-progress';
import { expandInputs, decodeFileBatches, type InputFile } from '../formats/index.js';
import { formatDecodeError } from '../model/event.js';
import { fallbackSummary } from '../evtx/index.js';
import { keyReaderSummary } from '../formats/ndjsonBytes.js';
import { processEventKind } from '../model/process.js';
import type { Alert } from '../model/alert.js';
import { SEVERITIES } from '../model/alert.js';
import { createPipeline, type Pipeline } from '../pipeline.js';
import { loadPlaceholders } from '../rules/index.js';
import { ConfigError, CONTEXT_EVENTS } from '../correlate/index.js';
import { parseDuration } from '../triage/config.js';
import { writeAlerts, OUTPUT_FORMATS, type OutputFormat } from './render.js';
import { ProblemReport } from './problems.js';
import { safeLine } from '../output/text.js';
import { colourEnabled } from '../output/colour.js';
import { EXIT_ALERTS, EXIT_OK, EXIT_USAGE, type SetExit } from './exit.js';

export interface ScanOptions {
  format?: OutputFormat;
  output?: string;
  rules: string[];
  builtin: boolean;
  minLevel?: string;
  ruleStatus?: string[];
  tags?: string[];
  placeholders?: string;
  verbose?: boolean;
  failOnAlert?: boolean;
  group?: 'incidents';
  config?: string;
  incidentGap?: number;
  incidentSpan?: number;
  incidentByUser?: boolean;
  indexCapacity?: number;
  showSuppressed?: boolean;
  fast?: boolean;
  prefilter: boolean;
  progress: boolean;
  quiet?: boolean;
}

export interface ScanStats {
  files: number;
  bytes: number;
  events: number;
  processEvents: number;
  alerts: number;
  suppressed: number;
  skipped: number;
  unreadable: number;
}

export function registerScan(program: Command, setExit: SetExit): void {
  program
    .command('scan')
    .description('scan event log files (EVTX, Windows XML, JSON/NDJSON dialects; .gz; directories; - for stdin) for alerts')
    .argument('<paths...>', 'files or directories to scan, - for stdin')
    .addOption(new Option('-f, --format <format>', 'output format (default: table on a terminal, jsonl otherwise)').choices(OUTPUT_FORMATS))
    .option('-o, --output <file>', 'write alerts to a file instead of stdout')
    .option('-r, --rules <path>', 'Sigma rule file or directory (repeatable)', collect, [])
    .option('--no-builtin', 'do not load the built-in rules')
    .addOption(new Option('--min-level <level>', 'only rules of at least this level').choices(SEVERITIES))
    .option('--rule-status <status>', 'only rules with this status (repeatable: stable, test, experimental, ...)', collect, undefined)
    .option('--tags <tag>', 'only rules with this tag (repeatable, e.g. attack.t1105)', collect, undefined)
    .option('--placeholders <file>', 'YAML map of Sigma |expand placeholder names to values')
    .option('--fail-on-alert', 'exit with code 1 when any alert is raised')
    .addOption(new Option('--group <what>', 'group the output').choices(['incidents']))
    .option('-c, --config <file>', 'YAML config: suppressions, incident grouping')
    .option('--incident-gap <duration>', 'inactivity gap that closes an incident (e.g. 30m, 2h; default 30m)', durationOption)
    .option('--incident-span <duration>', 'maximum time span of one incident (default 24h)', durationOption)
    .option('--incident-by-user', 'group incidents by host and user instead of host only')
    .option('--index-capacity <n>', 'process events kept for process trees and lifetimes (default 200000)', positiveInteger)
    .option('--show-suppressed', 'include suppressed alerts in the output (they are always counted)')
    .option('--fast', 'skip every record that cannot match a rule, even those correlation reads (trees, lifetimes and evidence then come only from records that pass)')
    .option('--no-prefilter', 'decode every record (by default records that can neither match a rule nor serve correlation are skipped undecoded)')
    .option('--no-progress', 'no progress bar even on a terminal')
    .option('-q, --quiet', 'no summary on stderr')
    .option('-v, --verbose', 'list every rule warning and every input problem (by default: counts, one line per damaged file) and the EVTX fast-path fallback counts')
    .action(async (paths: string[], options: ScanOptions) => {
      setExit(await runScan(paths, options));
    });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function durationOption(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new InvalidArgumentError('expected a duration such as 90s, 30m, 2h or 1d');
  return ms;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

export async function runScan(paths: string[], options: ScanOptions): Promise<number> {
  const format: OutputFormat = options.format ?? (process.stdout.isTTY && !options.output ? 'table' : 'jsonl');
  // A rule path that cannot be read would leave a scan without the rules the analyst asked for: a silent false
  // negative. It is a usage error, before any input is read.
  const badRulePath = await firstUnreadable(options.rules);
  if (badRulePath) {
    warn(`procwatch scan: --rules ${badRulePath.path}: ${badRulePath.reason}`);
    return EXIT_USAGE;
  }
  let pipeline: Pipeline;
  try {
    const placeholders = options.placeholders ? await loadPlaceholders(options.placeholders) : undefined;
    pipeline = await createPipeline({
      rules: {
        paths: options.rules,
        builtin: options.builtin,
        placeholders,
        filter: { minLevel: options.minLevel, statuses: options.ruleStatus, tags: options.tags },
      },
      correlation: {
        configPath: options.config,
        incidentGapMs: options.incidentGap,
        incidentSpanMs: options.incidentSpan,
        groupByUser: options.incidentByUser,
        indexCapacity: options.indexCapacity,
        // scan finalises every alert at end of input; following alerts for live updates is the service's job.
        watchCapacity: 0,
        // ... and it builds every alert's context there, once (see finalize).
        deferContext: true,
      },
    });
  } catch (err) {
    // A bad config or placeholders file is a usage error: say which file and why, no stack trace.
    if (err instanceof ConfigError || (err instanceof Error && options.placeholders && err.message.includes(options.placeholders))) {
      warn(`procwatch scan: ${err.message}`);
      return EXIT_USAGE;
    }
    throw err;
  }
  reportRuleWarnings(pipeline, options);
  for (const e of pipeline.ruleErrors) warn(`${e.unreadable ? 'rules unreadable' : 'rule rejected'}: ${e.source}${e.ruleId ? ` (${e.ruleId})` : ''}: ${e.reason}`);
  // A file below a --rules directory that cannot be read is as much a missing rule as a missing path.
  if (pipeline.ruleErrors.some((e) => e.unreadable)) return EXIT_USAGE;
  if (pipeline.rules.length === 0) {
    warn('procwatch scan: no rules to run');
    return EXIT_USAGE;
  }

  const stats: ScanStats = { files: 0, bytes: 0, events: 0, processEvents: 0, alerts: 0, suppressed: 0, skipped: 0, unreadable: 0 };
  const inputs: InputFile[] = [];
  for await (const item of expandInputs(paths)) {
    if ('error' in item) {
      warn(formatDecodeError(item.error));
      stats.unreadable++;
    } else inputs.push(item);
  }

  const progress = startProgress(options, inputs);
  // The engine's literal set is sound for detection: a record holding none of the literals matches no rule.
  // Correlation also reads process, network, DNS and file events, so by default those are kept too;
  // --fast drops them as well, --no-prefilter decodes everything.
  const prefilterLiterals = options.prefilter ? pipeline.engine.prefilterLiterals() : null;
  const keepEvents = options.fast ? null : CONTEXT_EVENTS.map((k) => ({ provider: k.provider, eventIds: [...k.eventIds], fields: k.fields }));
  const raised: Alert[] = [];
  const problems = new ProblemReport((text) => {
    progress?.stop();
    process.stderr.write(text);
  }, options.verbose === true);
  for (const input of inputs) {
    stats.files++;
    const onBytes = (n: number): void => {
      stats.bytes += n;
      progress?.increment(n);
    };
    // Batches (one per read chunk) rather than items: one await per chunk, not per event.
    for await (const batch of decodeFileBatches(input, { onBytes, prefilterLiterals, keepEvents })) {
      for (const item of batch) {
        if ('error' in item) {
          problems.add(item.error);
          stats.skipped++;
          continue;
        }
        stats.events++;
        const ev = item.event;
        if (processEventKind(ev.system.provider, ev.system.eventId)) stats.processEvents++;
        // Kept for correlation only (no literal: no rule can match it): the rule engine is skipped.
        if (item.contextOnly === true) pipeline.context(ev);
        else for (const a of pipeline.handle(ev)) raised.push(a);
      }
    }
    problems.flush();
  }
  for (const a of pipeline.flush()) raised.push(a);
  progress?.stop();

  // Trees, lifetimes and evidence are added as each alert is written (complete), not held for all at once.
  const finalized = pipeline.correlator.finalize(raised, { liveLater: true });
  raised.length = 0;
  const shown = options.showSuppressed ? finalized : finalized.filter((a) => !a.context?.suppressed);
  stats.suppressed = finalized.filter((a) => a.context?.suppressed).length;
  stats.alerts = finalized.length - stats.suppressed;

  const out: Writable = options.output ? createWriteStream(options.output) : process.stdout;
  const toTerminal = !options.output && process.stdout.isTTY === true;
  await writeAlerts(out, shown, format, {
    group: options.group,
    width: terminalWidth(),
    colour: !options.output && colourEnabled({ isTTY: toTerminal, env: process.env }),
    complete: (a) => pipeline.correlator.complete(a),
  });
  if (options.output) await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));

  if (!options.quiet) process.stderr.write(summaryLine(stats, pipeline.rules.length));
  // Records the EVTX fast paths handed to the slower ones, by reason: a jump here is a slowdown to look into.
  if (options.verbose && !options.quiet) process.stderr.write(`procwatch: EVTX fast-path fallbacks: ${fallbackSummary()}\n`);
  // NDJSON lines the key reader handed to the full decoder, by reason.
  if (options.verbose && !options.quiet) process.stderr.write(`procwatch: NDJSON key-reader fallbacks: ${keyReaderSummary()}\n`);
  if (stats.unreadable > 0) return EXIT_USAGE;
  return options.failOnAlert && shown.length > 0 ? EXIT_ALERTS : EXIT_OK;
}

function reportRuleWarnings(pipeline: Pipeline, options: ScanOptions): void {
  const warnings = pipeline.warnings;
  if (warnings.length === 0 || options.quiet) return;
  if (options.verbose) {
    for (const w of warnings) warn(`rule warning: ${w.source} (${w.ruleId}): ${w.message}`);
  } else {
    const rules = new Set(warnings.map((w) => w.ruleId)).size;
    warn(`procwatch: ${warnings.length} rule warning${warnings.length === 1 ? '' : 's'} in ${rules} rule${rules === 1 ? '' : 's'} (unknown fields, unsupported log sources); --verbose lists them`);
  }
}

/** Every stderr line goes through here: file names, rule text and raw field text are escaped for the terminal. */
function warn(line: string): void {
  process.stderr.write(safeLine(line));
}

/** The first --rules path that does not exist or cannot be read, with the reason in words. */
async function firstUnreadable(paths: readonly string[]): Promise<{ path: string; reason: string } | undefined> {
  for (const path of paths) {
    try {
      await access(path, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message;
      return { path, reason };
    }
  }
  return undefined;
}

/** The table's width: the terminal's, else $COLUMNS (set by most shells, and by scripts that want a width), else 160. */
function terminalWidth(): number {
  if (process.stdout.isTTY && process.stdout.columns > 0) return process.stdout.columns;
  const fromEnv = Number(process.env['COLUMNS']);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 160;
}

function startProgress(options: ScanOptions, inputs: InputFile[]): SingleBar | undefined {
  if (!options.progress || !process.stderr.isTTY) return undefined;
  const total = inputs.reduce((sum, f) => sum + (f.size ?? 0), 0);
  if (total < 8 * 1024 * 1024) return undefined; // short scans finish before a bar helps
  // Loaded only when a bar is shown: most scans run without a terminal (pipelines, CI) and need not pay for it.
  const { SingleBar: Bar, Presets } = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
  const bar = new Bar(
    { stream: process.stderr, format: 'scanning {bar} {percentage}% | {value_mb}/{total_mb} MB | ETA {eta}s', hideCursor: true, clearOnComplete: true },
    Presets.shades_classic,
  );
  bar.start(total, 0, { value_mb: '0', total_mb: (total / 1e6).toFixed(0) });
  const increment = bar.increment.bind(bar);
  bar.increment = ((n: number) => increment(n, { value_mb: (bar.getProgress() * total / 1e6).toFixed(0) })) as typeof bar.increment;
  return bar;
}

export function summaryLine(s: ScanStats, rules: number): string {
  const parts = [
    `${s.files} file${s.files === 1 ? '' : 's'}`,
    `${s.events} events`,
    `${s.processEvents} process events`,
    `${rules} rule${rules === 1 ? '' : 's'}`,
    `${s.alerts} alert${s.alerts === 1 ? '' : 's'}`,
  ];
  if (s.suppressed > 0) parts.push(`${s.suppressed} suppressed`);
  parts.push(`${s.skipped} skipped`);
  if (s.unreadable > 0) parts.push(`${s.unreadable} unreadable`);
  return `procwatch: ${parts.join(', ')}\n`;
}
