// `procwatch serve` through the real CLI, from sources, as a child process (crash tests kill it).
import { main } from '../../../src/cli/main.js';

main(['node', 'procwatch', 'serve', ...process.argv.slice(2)]).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`serveChild: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 2;
  },
);
