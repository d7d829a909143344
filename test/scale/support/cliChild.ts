// `procwatch serve` / `procwatch worker` through the real CLI modules, from sources, as a child process
// (the scale-out tests kill workers with SIGKILL). Registers the commands itself, as main.ts does.
import { Command, CommanderError } from 'commander';
import { registerServe } from '../../../src/cli/serve.js';
import { registerWorker } from '../../../src/cli/worker.js';

const program = new Command().name('procwatch').exitOverride();
let code = 0;
const setExit = (c: number): void => {
  code = c;
};
registerServe(program, setExit);
registerWorker(program, setExit);
program.parseAsync(process.argv).then(
  () => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`cliChild: ${err instanceof CommanderError ? err.message : err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 2;
  },
);
