/**
 * Real failures for delivery tests: a small tmpfs to fill (a full disk) and a throwaway PostgreSQL server of
 * the test's own to stop and start (never the shared one on 5432). Each returns a reason instead when this
 * machine cannot provide it (not root, no mount permission, no PostgreSQL binaries), for `t.skip(reason)`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  unmount(): void;
}

/** Mounts a tmpfs of `sizeMiB` on a fresh directory, or says why it cannot. */
export function mountTmpfs(sizeMiB: number): Tmpfs | string {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs (full-disk test)';
  const dir = mkdtempSync(join(tmpdir(), 'pw-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here (${(r.stderr || r.error?.message || 'mount failed').trim()})`;
  }
  return {
    dir,
    unmount(): void {
      spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface ThrowawayPostgres {
  url: string;
  start(): void;
  stop(): void;
  destroy(): void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** initdb + pg_ctl as the `postgres` OS user in a temp directory, on a free port; or why it cannot. */
export async function throwawayPostgres(): Promise<ThrowawayPostgres | string> {
  if (!existsSync(join(PG_BIN, 'initdb'))) return `no PostgreSQL 15 binaries in ${PG_BIN}`;
  if (process.getuid?.() !== 0) return 'needs root to run PostgreSQL as the postgres user';
  const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  if (ids.status !== 0) return 'no postgres OS user';
  const uid = Number(ids.stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const root = mkdtempSync(join(tmpdir(), 'pw-pg-'));
  chmodSync(root, 0o755);
  chownSync(root, uid, gid);
  const data = join(root, 'data');
  const port = await freePort();
  const asPostgres = (cmd: string, args: string[]): void => {
    execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { stdio: 'pipe' });
  };
  try {
    asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']);
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    return `initdb failed: ${(err as Error).message}`;
  }
  const opts = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const pg: ThrowawayPostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: () => asPostgres('pg_ctl', ['-D', data, '-o', opts, '-l', join(root, 'log'), '-w', 'start']),
    // Immediate: what a crash or a lost server looks like to the clients.
    stop: () => asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']),
    destroy(): void {
      try {
        pg.stop();
      } catch {
        // Already stopped: nothing to stop.
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  pg.start();
  return pg;
}
