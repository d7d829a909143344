/**
 * The shared EVTX corpus (../shared/corpus relative to the repo root): file lists and the expectation tables
 * MANIFEST.tsv and VALIDATION.tsv. Read in place, never copied into the repo.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS } from '../../helpers/paths.js';

export const CORPUS_ROOT = CORPUS;
export const EVTX_CORPUS = join(CORPUS_ROOT, 'evtx');
export const SIGMA_REGRESSION = join(CORPUS_ROOT, 'sigma', 'regression_data');

/** Fails loudly when the corpus is absent: a skipped corpus test would be a silently missing part. */
export function requireCorpus(): void {
  if (!existsSync(join(EVTX_CORPUS, 'VALIDATION.tsv'))) {
    throw new Error(`EVTX corpus not found at ${EVTX_CORPUS} (../shared/corpus beside the repo, or PROCWATCH_CORPUS)`);
  }
}

export function listEvtxFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listEvtxFiles(full));
    else if (name.toLowerCase().endsWith('.evtx')) out.push(full);
  }
  return out;
}

/** Every .evtx of the EVTX corpus and of the Sigma regression data, sorted. */
export function allCorpusEvtxFiles(): string[] {
  return [...listEvtxFiles(EVTX_CORPUS), ...listEvtxFiles(SIGMA_REGRESSION)];
}

function readTsv(path: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  const cols = head!.split('\t');
  return lines.map((l) => {
    const cells = l.split('\t');
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']));
  });
}

export interface ValidationRow {
  /** Path relative to the EVTX corpus, e.g. 'evtx-crate/security.evtx'. */
  file: string;
  libevtxRecords: number;
  pyevtxRecords: number;
  /** Allocated records as evtxinfo counts them from the chunk headers. */
  evtxinfoRecords: number;
  /** The Rust evtx crate's test expectation: records parsed ok (and errors), when one is given. */
  crateOk?: number;
  crateErr?: number;
  /** Free-text crate expectation that is not "N ok/M err" (e.g. counts including errors). */
  crateNote?: string;
}

export function validationRows(): ValidationRow[] {
  return readTsv(join(EVTX_CORPUS, 'VALIDATION.tsv')).map((r) => {
    const row: ValidationRow = {
      file: r['file']!,
      libevtxRecords: Number(r['libevtx_records']),
      pyevtxRecords: Number(r['pyevtx_records']),
      evtxinfoRecords: Number(r['libevtx_hdr_records(evtxinfo)']),
    };
    const exp = r['evtx_crate_test_expectation'] ?? '';
    const m = /^(\d+) ok\/(\d+) err$/.exec(exp.trim());
    if (m) {
      row.crateOk = Number(m[1]);
      row.crateErr = Number(m[2]);
    } else if (exp.trim()) {
      row.crateNote = exp.trim();
    }
    return row;
  });
}

export interface ManifestRow {
  file: string;
  exercises: string;
}

export function manifestRows(): ManifestRow[] {
  return readTsv(join(EVTX_CORPUS, 'MANIFEST.tsv')).map((r) => ({ file: r['local_file']!, exercises: r['exercises'] ?? '' }));
}

/** "(expects 270 ok, 2 err)" / "(expects 17 ok)" in MANIFEST's description, when present. */
export function manifestExpectation(m: ManifestRow): { ok: number; err?: number } | undefined {
  const hit = /expects (\d+) ok(?:, (\d+) err)?/.exec(m.exercises);
  if (!hit) return undefined;
  return hit[2] === undefined ? { ok: Number(hit[1]) } : { ok: Number(hit[1]), err: Number(hit[2]) };
}

/** Corpus files used as fuzz seeds: small and large, templated and templateless, damaged and clean. */
export function fuzzSeedFiles(): string[] {
  return [
    'evtx-crate/Security_short_selected.evtx',
    'evtx-crate/new-user-security.evtx',
    'evtx-crate/Application_no_crc32.evtx',
    'evtx-crate/Microsoft-Windows-HelloForBusiness%4Operational.evtx',
    'evtx-crate/Microsoft-Windows-LanguagePackSetup%4Operational.evtx',
    'evtx-crate/MSExchange_Management_wec.evtx',
    'evtx-crate/E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx',
    'evtx-crate/sysmon.evtx',
    'attack/hy_ID4688-Clear_event_log_attempt_native_.evtx',
    'synthetic/certreq_sysmon_eid1_synthetic.evtx',
    'synthetic/certreq_security_4688_synthetic.evtx',
  ].map((f) => join(EVTX_CORPUS, f));
}
