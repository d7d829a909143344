/**
 * `procwatch token new` / `procwatch token hash`: make a token and the `sha256:<hex>` form the serve config's
 * `tokens[].hash` takes, so the config file need not hold tokens at rest.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { tokenHash } from '../server/auth.js';
import { EXIT_OK, EXIT_USAGE, type SetExit } from './exit.js';

const MIN_TOKEN_CHARS = 16;
/** A token is one line; more than this on stdin is not a token. */
const MAX_STDIN_BYTES = 4096;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of process.stdin) {
    const b = c as Buffer;
    n += b.length;
    if (n > MAX_STDIN_BYTES) throw new Error(`more than ${MAX_STDIN_BYTES} bytes on stdin; expected one token`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}

export function registerToken(program: Command, setExit: SetExit): void {
  const cmd = program.command('token').description('make API tokens and their hashes for the serve config (tokens: [{name, hash, scopes}])');
  cmd
    .command('new')
    .description('print a new random token (give it to the client) and its sha256 hash (put it in the config)')
    .action(() => {
      const token = randomBytes(24).toString('base64url');
      process.stdout.write(`token: ${token}\nhash:  ${tokenHash(token)}\n`);
      setExit(EXIT_OK);
    });
  cmd
    .command('hash')
    .description('read a token on stdin, print sha256:<hex> for the config (e.g. procwatch token hash < shipper.token)')
    .action(async () => {
      let token: string;
      try {
        token = await readStdin();
      } catch (err) {
        process.stderr.write(`procwatch token hash: ${(err as Error).message}\n`);
        return setExit(EXIT_USAGE);
      }
      if (token.length < MIN_TOKEN_CHARS || /[\s:]/.test(token)) {
        process.stderr.write(`procwatch token hash: a token must be at least ${MIN_TOKEN_CHARS} characters, without whitespace or ':'\n`);
        return setExit(EXIT_USAGE);
      }
      process.stdout.write(`${tokenHash(token)}\n`);
      setExit(EXIT_OK);
    });
}
