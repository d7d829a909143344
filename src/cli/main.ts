/**
 * procwatch command line. Each command lives in its own module and registers itself on the program.
 * `main` returns the process exit code: 0 done, 1 alerts found with --fail-on-alert, 2 usage or unreadable input.
 */
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE, type SetExit } from './exit.js';
import { terminalSafe } from '../output/text.js';

type Register = (program: Command, setExit: SetExit) => void;

/**
 * The commands, each loaded only when it runs: a run imports its own command's modules, not every command's
 * (`dump` never loads the rule engine, `scan` never loads the server). Help and unknown commands load them all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  scan: async () => (await import('./scan.js')).registerScan,
  dump: async () => (await import('./dump.js')).registerDump,
  rules: async () => (await import('./rules.js')).registerRules,
  serve: async () => (await import('./serve.js')).registerServe,
  worker: async () => (await import('./worker.js')).registerWorker,
  token: async () => (await import('./token.js')).registerToken,
  policy: async () => (await import('./policy.js')).registerPolicy,
};

/** The commands a command line needs registered: the one it names, none for --version, else all. */
function commandsFor(argv: string[]): string[] {
  const first = argv[2];
  if (first !== undefined && Object.hasOwn(COMMANDS, first)) return [first];
  if (first === '-V' || first === '--version') return [];
  return Object.keys(COMMANDS);
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program
    .name('procwatch')
    .description('Detection engine for Windows process telemetry (EVTX, Windows XML, JSON/NDJSON; Sigma rules)')
    .version(await readVersion(), '-V, --version')
    // Errors echo what was typed (an unknown option, a bad value): escaped like everything else echoed. Line by
    // line, as commander's own messages have two ("(Did you mean scan?)"); a typed newline only starts a line.
    .configureOutput({ outputError: (text, write) => write(text.split('\n').map(terminalSafe).join('\n')) })
    .exitOverride();
  let exitCode = 0;
  const setExit = (code: number): void => {
    exitCode = code;
  };
  // Registered in the table's order, so help lists them as before.
  const registers = await Promise.all(commandsFor(argv).map((name) => COMMANDS[name]!()));
  for (const register of registers) register(program, setExit);
  pointToHelp(program, 'procwatch');
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    throw err;
  }
  return exitCode;
}

/**
 * A usage error prints the error and one line naming the command's --help, never the whole help: on a terminal the
 * help scrolls the error itself out of sight. Set on every command after they are all registered.
 */
function pointToHelp(command: Command, path: string): void {
  command.showHelpAfterError(`Run '${path} --help' for the options.`);
  for (const sub of command.commands) pointToHelp(sub, `${path} ${sub.name()}`);
}

async function readVersion(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
