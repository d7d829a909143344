/**
 * Blocks of consecutive chunks: the unit of work the parallel paths hand to worker threads. Chunks are
 * independent (each has its own string and template tables), so a block parses on its own.
 */
import { parseChunk } from './chunk.js';
import { CHUNK_SIZE } from './fileHeader.js';
import type { EvtxItem, ParserSettings } from './types.js';

/** Where a block lies in its file. */
export interface BlockLocation {
  file: string;
  firstChunkIndex: number;
  /** File offset of the first chunk. */
  fileOffset: number;
  /** Chunks with an index below this report a bad signature; later ones are preallocated space. */
  reportBadMagicBelow: number;
}

/** Records and errors of every chunk of the block, in file order. */
export function* parseBlock(bytes: Uint8Array, loc: BlockLocation, settings: ParserSettings): Generator<EvtxItem> {
  for (let off = 0, chunkIndex = loc.firstChunkIndex; off < bytes.length; off += CHUNK_SIZE, chunkIndex++) {
    const at = { file: loc.file, chunkIndex, fileOffset: loc.fileOffset + off, reportBadMagic: chunkIndex < loc.reportBadMagicBelow };
    yield* parseChunk(bytes.subarray(off, Math.min(off + CHUNK_SIZE, bytes.length)), at, settings);
  }
}
