// The processes of bench/scale.bench.ts: `procwatch serve` / `procwatch worker` through the real CLI modules.
import { Command } from 'commander';
import { registerServe } from '../src/cli/serve.js';
import { registerWorker } from '../src/cli/worker.js';

const program = new Command().name('procwatch').exitOverride();
let code = 0;
registerServe(program, (c) => (code = c));
registerWorker(program, (c) => (code = c));
program.parseAsync(process.argv).then(
  () => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`scale-child: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 2;
  },
);
