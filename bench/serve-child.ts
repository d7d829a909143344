// The server side of bench/serve.bench.ts: `procwatch serve` through the real CLI, from sources.
import { main } from '../src/cli/main.js';

main(['node', 'procwatch', 'serve', ...process.argv.slice(2)]).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`serve-child: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 2;
  },
);
