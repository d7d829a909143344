/**
 * What some tests need beyond the repository and the services this kind of machine starts (PostgreSQL, NATS):
 * the shared corpus and a few Debian tools. The default tier (`npm test`) skips a test whose need is missing,
 * with one line saying what and how to get it; the full tier (`npm run test:full`, CI) runs everything and
 * fails on any such skip, so a missing part never passes silently there.
 *
 * Test files declare their needs in one of two ways:
 *   - a whole file: a comment line `// @requires corpus evtxexport` near its top; the runner
 *     (scripts/run-tests.ts) leaves the file out and prints the reason;
 *   - one test or suite: `test(name, needs('corpus'), fn)`; node's runner shows it as skipped and the reason
 *     is logged for the runner's summary.
 */
import { accessSync, appendFileSync, constants, existsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { CORPUS } from './paths.js';

export { CORPUS };

/** Executables the tests run, each overridable (tests and CI point them elsewhere; a newcomer need not). */
export const TOOLS = {
  evtxexport: process.env['EVTXEXPORT'] ?? 'evtxexport',
  rsyslogd: process.env['RSYSLOGD'] ?? '/usr/sbin/rsyslogd',
  openssl: process.env['OPENSSL'] ?? 'openssl',
  chromium: process.env['CHROMIUM'] ?? '/usr/bin/chromium',
} as const;

const OMELASTICSEARCH = ['/usr/lib/x86_64-linux-gnu/rsyslog/omelasticsearch.so', '/usr/lib/aarch64-linux-gnu/rsyslog/omelasticsearch.so', '/usr/lib/rsyslog/omelasticsearch.so'];

const GTLS = ['/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so', '/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so', '/usr/lib/rsyslog/lmnsd_gtls.so'];

export type Requirement = 'corpus' | 'evtxexport' | 'rsyslog' | 'rsyslogd' | 'rsyslogd-tls' | 'openssl' | 'chromium';

interface Check {
  /** What the tests lose without it. */
  what: string;
  /** Undefined when present; otherwise how to get it. */
  missing(): string | undefined;
}

const CHECKS: Record<Requirement, Check> = {
  corpus: {
    what: 'the shared corpus',
    missing: () => (existsSync(join(CORPUS, 'evtx', 'VALIDATION.tsv')) ? undefined : `not found at ${CORPUS} — put shared/ beside the clone or set PROCWATCH_CORPUS`),
  },
  evtxexport: { what: 'evtxexport', missing: () => (executable(TOOLS.evtxexport) ? undefined : 'apt-get install libevtx-utils') },
  rsyslog: {
    what: "rsyslog's omelasticsearch",
    missing: () => (executable(TOOLS.rsyslogd) && OMELASTICSEARCH.some((p) => existsSync(p)) ? undefined : 'apt-get install rsyslog rsyslog-elasticsearch'),
  },
  rsyslogd: { what: 'rsyslogd (imtcp)', missing: () => (executable(TOOLS.rsyslogd) ? undefined : 'apt-get install rsyslog') },
  'rsyslogd-tls': {
    what: "rsyslog's TLS driver (gtls)",
    missing: () => (executable(TOOLS.rsyslogd) && GTLS.some((p) => existsSync(p)) ? undefined : 'apt-get install rsyslog rsyslog-gnutls'),
  },
  openssl: { what: 'openssl', missing: () => (executable(TOOLS.openssl) ? undefined : 'apt-get install openssl') },
  chromium: { what: 'Chromium', missing: () => (executable(TOOLS.chromium) ? undefined : 'apt-get install chromium') },
};

export const REQUIREMENTS = Object.keys(CHECKS) as Requirement[];

export function isRequirement(name: string): name is Requirement {
  return Object.hasOwn(CHECKS, name);
}

const cache = new Map<Requirement, string | undefined>();

/** Why the requirement is unmet ("evtxexport: apt-get install libevtx-utils"), or undefined when it is met. */
export function unmet(req: Requirement): string | undefined {
  if (!cache.has(req)) {
    const hint = CHECKS[req].missing();
    cache.set(req, hint === undefined ? undefined : `${CHECKS[req].what} missing — ${hint}`);
  }
  return cache.get(req);
}

/** True in the full tier, where nothing may be skipped. */
export function fullTier(): boolean {
  return process.env['PROCWATCH_TEST_TIER'] === 'full';
}

/**
 * Options for `test()`/`describe()`: skip with the reason when a requirement is unmet (default tier). In the full
 * tier nothing is skipped: the test runs and fails on what is missing, and the runner fails the run as well.
 */
export function needs(...reqs: Requirement[]): { skip?: string } {
  const reasons = reqs.map(unmet).filter((r): r is string => r !== undefined);
  if (reasons.length === 0) return {};
  const reason = reasons.join('; ');
  const log = process.env['PROCWATCH_SKIP_LOG'];
  if (log) appendFileSync(log, `${reason}\n`);
  return fullTier() ? {} : { skip: reason };
}

function executable(command: string): boolean {
  const candidates = isAbsolute(command) || command.includes('/') ? [command] : (process.env['PATH'] ?? '').split(delimiter).map((dir) => join(dir, command));
  return candidates.some((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false; // not there or not executable: try the next PATH entry
    }
  });
}
