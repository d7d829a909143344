/** The API token kept in the data directory when none is configured: generated once, printed once. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DataDirToken {
  token: string;
  /** True when it was generated just now (the caller prints it). */
  generated: boolean;
  path: string;
}

export function ensureDataDirToken(dataDir: string): DataDirToken {
  const path = join(dataDir, 'token');
  try {
    const token = readFileSync(path, 'utf8').trim();
    if (token.length >= 16) return { token, generated: false, path };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString('base64url');
  // 'wx': never overwrite a token another process wrote meanwhile; readable by the owner only.
  try {
    writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { token: readFileSync(path, 'utf8').trim(), generated: false, path };
    throw err;
  }
  return { token, generated: true, path };
}
