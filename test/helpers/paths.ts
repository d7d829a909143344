/** Locations tests share: the repo root and the read-only shared corpus (defined here only). */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The shared, read-only corpus: `PROCWATCH_CORPUS`, or `../shared/corpus` beside the repository. */
export const CORPUS = resolve(process.env['PROCWATCH_CORPUS'] ?? join(REPO_ROOT, '..', 'shared', 'corpus'));
