/**
 * The EVTX file header: the first 4096-byte block, of which the first 128 bytes are defined
 * (libyal's EVTX document, "file header"). Versions 3.1 and 3.2 share the layout.
 */
import { crc32 } from 'node:zlib';
import { asBuffer, viewOf } from './bytes.js';

export const FILE_HEADER_BLOCK_SIZE = 4096;
export const CHUNK_SIZE = 65536;
const FILE_MAGIC = 'ElfFile\0';

export const FILE_FLAG_DIRTY = 0x1;
export const FILE_FLAG_FULL = 0x2;
/** Set by some writers when checksums are not maintained (the Rust crate's sample Application_no_crc32.evtx). */
export const FLAG_NO_CRC32 = 0x4;

export interface FileHeaderInfo {
  /** The signature is `ElfFile\0`. */
  magicOk: boolean;
  majorVersion: number;
  minorVersion: number;
  /** e.g. '3.1', '3.2'. */
  version: string;
  firstChunkNumber: number;
  lastChunkNumber: number;
  nextRecordId: number;
  headerSize: number;
  headerBlockSize: number;
  /** Number of chunks the header claims; files may hold more (dirty/carved), which are read too. */
  chunkCount: number;
  flags: number;
  dirty: boolean;
  full: boolean;
  noCrc32: boolean;
  checksum: number;
  /** CRC32 of the first 120 bytes equals the stored checksum (always true when the file says it keeps none). */
  checksumOk: boolean;
}

/** Reads the header fields from the first 128 (or more) bytes of a file. */
export function fileHeaderInfo(input: Uint8Array): FileHeaderInfo {
  if (input.length < 128) throw new RangeError(`EVTX file header needs 128 bytes, got ${input.length}`);
  const buf = asBuffer(input);
  const view = viewOf(buf);
  const majorVersion = view.getUint16(38, true);
  const minorVersion = view.getUint16(36, true);
  const flags = view.getUint32(120, true);
  const checksum = view.getUint32(124, true);
  const noCrc32 = (flags & FLAG_NO_CRC32) !== 0;
  return {
    magicOk: buf.toString('latin1', 0, 8) === FILE_MAGIC,
    majorVersion,
    minorVersion,
    version: `${majorVersion}.${minorVersion}`,
    firstChunkNumber: view.getUint32(8, true) + view.getUint32(12, true) * 4294967296,
    lastChunkNumber: view.getUint32(16, true) + view.getUint32(20, true) * 4294967296,
    nextRecordId: view.getUint32(24, true) + view.getUint32(28, true) * 4294967296,
    headerSize: view.getUint32(32, true),
    headerBlockSize: view.getUint16(40, true),
    chunkCount: view.getUint16(42, true),
    flags,
    dirty: (flags & FILE_FLAG_DIRTY) !== 0,
    full: (flags & FILE_FLAG_FULL) !== 0,
    noCrc32,
    checksum,
    checksumOk: noCrc32 || crc32(buf.subarray(0, 120)) === checksum,
  };
}
