/**
 * procwatch command line. Each command lives in its own module and registers itself on the program.
 * `main` returns the process exit code: 0 done, 1 alerts found with --fail-on-alert, 2 usage or unreadable input.
 */
import { Command, CommanderError } from 'commander';
import { registerScan } from './scan.js';
import { registerDump } from './dump.js';
import { registerRules } from './rules.js';
import { registerServe } from './serve.js';
import { registerWorker } from './worker.js';
import { registerToken } from './token.js';
import { registerPolicy } from './policy.js';
import { EXIT_USAGE } from './exit.js';

export async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program
    .name('procwatch')
    .description('Detection engine for Windows process telemetry (EVTX, Windows XML, JSON/NDJSON; Sigma rules)')
    .version(await readVersion(), '-V, --version')
    .showHelpAfterError()
    .exitOverride();
  let exitCode = 0;
  const setExit = (code: number): void => {
    exitCode = code;
  };
  registerScan(program, setExit);
  registerDump(program, setExit);
  registerRules(program, setExit);
  registerServe(program, setExit);
  registerWorker(program, setExit);
  registerToken(program, setExit);
  registerPolicy(program, setExit);
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

async function readVersion(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
