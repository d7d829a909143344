/** Shared helpers for benchmarks: timing external commands with peak RSS, and formatting figures. */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DATA_DIR = join(REPO, 'bench', '.data');
export const SHARED = join(REPO, '..', 'shared', 'corpus');

export function dataDir(): string {
  mkdirSync(DATA_DIR, { recursive: true });
  return DATA_DIR;
}

export interface Timed {
  seconds: number;
  /** CPU seconds (user + system) of the command and the children it waited for; NaN without GNU time. */
  cpuSeconds: number;
  maxRssMb: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command (argv, no shell) under GNU time when available to get its peak RSS; best of `repeat` runs
 * by wall time (the machine is shared, the minimum is the least noisy figure).
 */
export function timeCommand(argv: string[], options: { repeat?: number; stdoutToNull?: boolean } = {}): Timed {
  let best: Timed | undefined;
  for (let i = 0; i < (options.repeat ?? 1); i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', ['-f', '__MAXRSS_KB=%M __CPU=%U+%S', ...argv], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      stdio: ['ignore', options.stdoutToNull ? 'ignore' : 'pipe', 'pipe'],
    });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const m = /__MAXRSS_KB=(\d+)/.exec(r.stderr ?? '');
    const cpu = /__CPU=([\d.]+)\+([\d.]+)/.exec(r.stderr ?? '');
    const t: Timed = {
      seconds,
      cpuSeconds: cpu ? Number(cpu[1]) + Number(cpu[2]) : NaN,
      maxRssMb: m ? Number(m[1]) / 1024 : NaN,
      status: r.status,
      stdout: r.stdout ?? '',
      stderr: (r.stderr ?? '').replace(/__MAXRSS_KB=\d+ __CPU=\S+\n?/, ''),
    };
    if (!best || t.seconds < best.seconds) best = t;
  }
  return best!;
}

export function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => String(c).padEnd(widths[i] ?? 12)).join(' ');
}
