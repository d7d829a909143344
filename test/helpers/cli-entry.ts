// Runs the CLI from TypeScript sources (so tests never depend on a stale dist/).
import { main } from '../../src/cli/main.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`procwatch: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 2;
  },
);
