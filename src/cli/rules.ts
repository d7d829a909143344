/**
 * `procwatch rules list` and `procwatch rules validate`: what rules procwatch would run, and whether a set
 * of Sigma files loads.
 *
 * Exit codes: list — 0, or 2 when a path cannot be read; validate — 0 when every rule loads and can run,
 * 1 when any rule is rejected (reason printed), 2 for usage errors or unreadable paths.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { loadRules, loadPlaceholders, type LoadedRules } from '../rules/index.js';
import { compileEngine, type EngineWarning } from '../engine/index.js';
import { EXIT_OK, EXIT_USAGE, type SetExit } from './exit.js';

/** Exit code of `rules validate` when at least one rule is rejected. */
export const EXIT_RULES_REJECTED = 1;

interface ListOptions {
  rules: string[];
  builtin: boolean;
  placeholders?: string;
  format: 'table' | 'json';
}

interface ValidateOptions {
  placeholders?: string;
  quiet?: boolean;
}

export function registerRules(program: Command, setExit: SetExit): void {
  const rules = program.command('rules').description('list or validate Sigma rules');
  rules
    .command('list')
    .description('list the rules procwatch runs: id, title, level, status, ATT&CK tags, source file')
    .option('-r, --rules <path>', 'Sigma rule file or directory (repeatable)', collect, [])
    .option('--no-builtin', 'do not include the built-in rules')
    .option('--placeholders <file>', 'YAML map of %placeholder% values for |expand')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (options: ListOptions) => setExit(await runList(options)));
  rules
    .command('validate')
    .description('load Sigma rules and report each as loaded or rejected with the reason (exit 1 if any is rejected)')
    .argument('<paths...>', 'rule files or directories')
    .option('--placeholders <file>', 'YAML map of %placeholder% values for |expand')
    .option('-q, --quiet', 'print only rejected rules and warnings')
    .action(async (paths: string[], options: ValidateOptions) => setExit(await runValidate(paths, options)));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function placeholdersFrom(file: string | undefined): Promise<Record<string, string[]> | undefined | Error> {
  if (file === undefined) return undefined;
  try {
    return await loadPlaceholders(file);
  } catch (err) {
    return err as Error;
  }
}

/** ATT&CK ids and tactics from Sigma tags: attack.t1027 → T1027, attack.defense-evasion → defense-evasion. */
export function attackOf(tags: string[]): string[] {
  return tags
    .filter((t) => t.toLowerCase().startsWith('attack.'))
    .map((t) => t.slice(7))
    .map((t) => (/^[tgs]\d{4}(\.\d{3})?$/i.test(t) || /^ta\d{4}$/i.test(t) ? t.toUpperCase() : t));
}

export async function runList(options: ListOptions): Promise<number> {
  const placeholders = await placeholdersFrom(options.placeholders);
  if (placeholders instanceof Error) {
    process.stderr.write(`procwatch: ${placeholders.message}\n`);
    return EXIT_USAGE;
  }
  const loaded = await loadRules({ paths: options.rules, builtin: options.builtin, ...(placeholders ? { placeholders } : {}) });
  for (const e of loaded.errors) process.stderr.write(`${e.source}: ${e.ruleId ? `${e.ruleId}: ` : ''}${e.reason}\n`);
  const rows = loaded.rules.map((r) => ({
    id: r.meta.id,
    title: r.meta.title,
    level: r.meta.level ?? '',
    status: r.meta.status ?? '',
    attack: attackOf(r.meta.tags),
    source: r.meta.source,
  }));
  if (options.format === 'json') process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else {
    const table = [['ID', 'TITLE', 'LEVEL', 'STATUS', 'ATT&CK', 'SOURCE'], ...rows.map((r) => [r.id, r.title, r.level, r.status, r.attack.join(','), r.source])];
    const widths = [36, 60, 13, 12, 30].map((max, i) => Math.min(max, Math.max(...table.map((row) => row[i]!.length))));
    for (const row of table)
      process.stdout.write(`${row.map((cell, i) => (i < widths.length ? fit(cell, widths[i]!) : cell)).join('  ')}\n`);
  }
  return loaded.errors.some((e) => e.unreadable) ? EXIT_USAGE : EXIT_OK;
}

function fit(cell: string, width: number): string {
  const oneLine = cell.replace(/\s+/g, ' ');
  return oneLine.length > width ? `${oneLine.slice(0, width - 1)}…` : oneLine.padEnd(width);
}

export interface ValidationReport {
  loaded: LoadedRules;
  warnings: EngineWarning[];
  /** Rules that load but cannot run (unsupported log source, a condition that can never match). */
  cannotRun: EngineWarning[];
}

/** Loads and compiles the rules; a rule that cannot run is a rejection, unknown fields are warnings. */
export async function validateRules(paths: string[], placeholders?: Record<string, string[]>): Promise<ValidationReport> {
  const loaded = await loadRules({ paths, builtin: false, ...(placeholders ? { placeholders } : {}) });
  const engine = compileEngine(loaded.rules);
  const cannotRun = engine.warnings.filter((w) => w.message.startsWith('unsupported log source') || w.message.includes('can never match'));
  const warnings = engine.warnings.filter((w) => !cannotRun.includes(w));
  return { loaded, warnings, cannotRun };
}

export async function runValidate(paths: string[], options: ValidateOptions): Promise<number> {
  const placeholders = await placeholdersFrom(options.placeholders);
  if (placeholders instanceof Error) {
    process.stderr.write(`procwatch: ${placeholders.message}\n`);
    return EXIT_USAGE;
  }
  const report = await validateRules(paths, placeholders);
  const out = process.stdout;
  const blocked = new Set(report.cannotRun.map((w) => `${w.source}\u0000${w.ruleId}`));
  for (const r of report.loaded.rules) {
    if (blocked.has(`${r.meta.source}\u0000${r.meta.id}`) || options.quiet) continue;
    out.write(`OK        ${r.meta.source}: ${r.meta.id}\n`);
  }
  for (const e of report.loaded.errors) out.write(`${e.unreadable ? 'UNREADABLE' : 'REJECTED'}  ${e.source}: ${e.ruleId ? `${e.ruleId}: ` : ''}${e.reason}\n`);
  for (const w of report.cannotRun) out.write(`REJECTED  ${w.source}: ${w.ruleId}: ${w.message}\n`);
  for (const w of report.warnings) out.write(`WARNING   ${w.source}: ${w.ruleId}: ${w.message}\n`);
  const rejected = report.loaded.errors.filter((e) => !e.unreadable).length + report.cannotRun.length;
  const ok = report.loaded.rules.length - report.cannotRun.length;
  process.stderr.write(`${ok} rules loaded, ${rejected} rejected, ${report.warnings.length} warnings\n`);
  if (report.loaded.errors.some((e) => e.unreadable)) return EXIT_USAGE;
  return rejected > 0 ? EXIT_RULES_REJECTED : EXIT_OK;
}
