/** The API token kept in the data directory when none is configured: generated once, printed once. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../configError.js';

/** Same bound as config tokens (config.ts MIN_TOKEN_CHARS; not imported to keep this module free of the YAML parser). */
const MIN_CHARS = 16;

export interface DataDirToken {
  token: string;
  /** True when it was generated just now (the caller prints it). */
  generated: boolean;
  path: string;
}

/**
 * The data-directory token: read when the file exists, generated when it does not. An existing file that is
 * empty or shorter than 16 characters is an error naming it (an empty file would otherwise lock everyone out
 * silently, a short one would be guessable).
 */
export function ensureDataDirToken(dataDir: string): DataDirToken {
  const path = join(dataDir, 'token');
  try {
    return { token: checked(readFileSync(path, 'utf8'), path), generated: false, path };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString('base64url');
  // 'wx': never overwrite a token another process wrote meanwhile; readable by the owner only.
  try {
    writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { token: checked(readFileSync(path, 'utf8'), path), generated: false, path };
    throw err;
  }
  return { token, generated: true, path };
}

function checked(text: string, path: string): string {
  const token = text.trim();
  if (token === '') throw new ConfigError(`token file ${path} is empty: put a token of at least ${MIN_CHARS} characters in it, or delete it to have one generated`);
  if (token.length < MIN_CHARS || /[\s:]/.test(token)) {
    throw new ConfigError(`token file ${path}: the token must be at least ${MIN_CHARS} characters, without whitespace or ':' (it has ${token.length})`);
  }
  return token;
}
