/** Locations tests share: the repo root and the read-only shared corpus beside it. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CORPUS = join(REPO_ROOT, '..', 'shared', 'corpus');
