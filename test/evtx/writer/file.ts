/**
 * Lays records out into 64 KiB chunks behind a 4 KiB file header, with every checksum the format defines:
 *   file header CRC32 over bytes [0,120); chunk header CRC32 over [0,120) ++ [128,512);
 *   chunk records CRC32 over [512, free space offset).
 * Returns the bytes and a layout (where each chunk and record landed) so damage helpers and tests can
 * point at exact offsets.
 */
import { crc32 } from 'node:zlib';
import { ByteWriter } from './bytes.js';
import { BinXmlWriter, ChunkTables } from './binxml.js';
import type { RecordSpec } from './model.js';

export const FILE_HEADER_SIZE = 4096;
export const CHUNK_SIZE = 65536;
export const CHUNK_HEADER_SIZE = 512;
const RECORD_HEADER_SIZE = 24;

export const FileFlags = { Dirty: 0x1, Full: 0x2, NoCrc32: 0x4 } as const;

export interface RecordLayout {
  recordId: bigint;
  /** Absolute file offset of the record signature. */
  offset: number;
  size: number;
}

export interface ChunkLayout {
  index: number;
  offset: number;
  records: RecordLayout[];
}

export interface EvtxLayout {
  bytes: Uint8Array;
  chunks: ChunkLayout[];
}

export interface EvtxFileOptions {
  minorVersion?: 1 | 2;
  flags?: number;
  /** Chunk count written in the header; defaults to the real count (tests set fewer to mimic dirty files). */
  headerChunkCount?: number;
  /** Start a new chunk after this many records (to force several chunks from a few records). */
  maxRecordsPerChunk?: number;
}

export function writeEvtx(records: RecordSpec[], options: EvtxFileOptions = {}): EvtxLayout {
  const chunks: { bytes: Uint8Array; layout: ChunkLayout }[] = [];
  let pending = [...records];
  while (pending.length > 0) {
    const index = chunks.length;
    const { bytes, written } = buildChunk(pending, options.maxRecordsPerChunk ?? Infinity);
    const offset = FILE_HEADER_SIZE + index * CHUNK_SIZE;
    chunks.push({
      bytes,
      layout: { index, offset, records: written.map((r) => ({ ...r, offset: r.offset + offset })) },
    });
    pending = pending.slice(written.length);
  }
  const file = new Uint8Array(FILE_HEADER_SIZE + chunks.length * CHUNK_SIZE);
  const lastId = records.length > 0 ? BigInt(records[records.length - 1]!.recordId) : 0n;
  file.set(fileHeader(chunks.length, lastId + 1n, options), 0);
  chunks.forEach((c, i) => file.set(c.bytes, FILE_HEADER_SIZE + i * CHUNK_SIZE));
  return { bytes: file, chunks: chunks.map((c) => c.layout) };
}

function fileHeader(chunkCount: number, nextRecordId: bigint, options: EvtxFileOptions): Uint8Array {
  const w = new ByteWriter(0, FILE_HEADER_SIZE);
  w.bytes(Buffer.from('ElfFile\0', 'latin1'));
  w.u64(0n); // first chunk number
  w.u64(BigInt(Math.max(chunkCount - 1, 0))); // last chunk number
  w.u64(nextRecordId);
  w.u32(128); // header size
  w.u16(options.minorVersion ?? 1).u16(3);
  w.u16(FILE_HEADER_SIZE);
  w.u16(options.headerChunkCount ?? chunkCount);
  w.zeros(76);
  w.u32(options.flags ?? 0);
  w.u32(0); // checksum, below
  w.zeros(FILE_HEADER_SIZE - w.length);
  const bytes = w.toBytes();
  new DataView(bytes.buffer).setUint32(124, crc32(bytes.subarray(0, 120)), true);
  return bytes;
}

function buildChunk(
  records: RecordSpec[],
  maxRecords: number,
): { bytes: Uint8Array; written: RecordLayout[] } {
  const tables = new ChunkTables();
  const chunk = new Uint8Array(CHUNK_SIZE);
  const written: RecordLayout[] = [];
  let free = CHUNK_HEADER_SIZE;
  for (const spec of records) {
    if (written.length >= maxRecords) break;
    // Serialise against a copy of the tables: a record that does not fit must not leave names behind.
    const trial = cloneTables(tables);
    const bytes = serialiseRecord(spec, free, trial);
    if (free + bytes.length > CHUNK_SIZE) {
      if (written.length === 0) throw new Error(`record ${spec.recordId} is larger than a chunk`);
      break;
    }
    copyTables(trial, tables);
    chunk.set(bytes, free);
    written.push({ recordId: BigInt(spec.recordId), offset: free, size: bytes.length });
    free += bytes.length;
  }
  writeChunkHeader(chunk, written, free, tables);
  return { bytes: chunk, written };
}

function serialiseRecord(spec: RecordSpec, at: number, tables: ChunkTables): Uint8Array {
  const w = new ByteWriter(at);
  w.bytes(Uint8Array.of(0x2a, 0x2a, 0, 0));
  w.u32(0); // size, patched
  w.u64(BigInt(spec.recordId));
  w.u64(spec.written);
  new BinXmlWriter(w, tables).fragment(spec.body);
  const size = w.length + 4;
  w.u32(size);
  w.patchU32(4, size);
  if (size < RECORD_HEADER_SIZE + 4) throw new Error('record too small');
  return w.toBytes();
}

function cloneTables(t: ChunkTables): ChunkTables {
  const c = new ChunkTables();
  copyTables(t, c);
  return c;
}

function copyTables(from: ChunkTables, to: ChunkTables): void {
  if (from === to) return;
  to.names.clear();
  for (const [k, v] of from.names) to.names.set(k, v);
  to.templates.clear();
  for (const [k, v] of from.templates) to.templates.set(k, v);
  to.stringBuckets.set(from.stringBuckets);
  to.templateBuckets.set(from.templateBuckets);
}

function writeChunkHeader(chunk: Uint8Array, records: RecordLayout[], free: number, tables: ChunkTables): void {
  const v = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  chunk.set(Buffer.from('ElfChnk\0', 'latin1'), 0);
  const first = records[0]?.recordId ?? 0n;
  const last = records[records.length - 1]?.recordId ?? 0n;
  v.setBigUint64(8, first, true); // first event record number
  v.setBigUint64(16, last, true); // last event record number
  v.setBigUint64(24, first, true); // first event record identifier
  v.setBigUint64(32, last, true); // last event record identifier
  v.setUint32(40, 128, true); // header size
  v.setUint32(44, records[records.length - 1]?.offset ?? 0, true); // last record offset
  v.setUint32(48, free, true); // free space offset
  for (let i = 0; i < 64; i++) v.setUint32(128 + i * 4, tables.stringBuckets[i]!, true);
  for (let i = 0; i < 32; i++) v.setUint32(384 + i * 4, tables.templateBuckets[i]!, true);
  resealChunk(chunk);
}

/** Recomputes both chunk checksums (after a deliberate edit that should leave only one fault). */
export function resealChunk(chunk: Uint8Array): void {
  const v = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const free = v.getUint32(48, true);
  v.setUint32(52, crc32(chunk.subarray(CHUNK_HEADER_SIZE, free)), true);
  const headerCrc = crc32(chunk.subarray(128, CHUNK_HEADER_SIZE), crc32(chunk.subarray(0, 120)));
  v.setUint32(124, headerCrc, true);
}

// --- damage: each helper returns a new file with exactly one fault --------------------------------

function chunkView(bytes: Uint8Array, chunkIndex: number): Uint8Array {
  const start = FILE_HEADER_SIZE + chunkIndex * CHUNK_SIZE;
  return bytes.subarray(start, start + CHUNK_SIZE);
}

/** Records checksum of a chunk no longer matches its (intact) records. */
export function withBadRecordsChecksum(bytes: Uint8Array, chunkIndex: number): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer, FILE_HEADER_SIZE + chunkIndex * CHUNK_SIZE);
  v.setUint32(52, v.getUint32(52, true) ^ 0xdeadbeef, true);
  // keep the header checksum consistent so that only the records checksum is wrong
  const chunk = chunkView(out, chunkIndex);
  v.setUint32(124, crc32(chunk.subarray(128, CHUNK_HEADER_SIZE), crc32(chunk.subarray(0, 120))), true);
  return out;
}

/** Chunk header checksum wrong (header fields themselves intact). */
export function withBadChunkHeaderChecksum(bytes: Uint8Array, chunkIndex: number): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer, FILE_HEADER_SIZE + chunkIndex * CHUNK_SIZE);
  v.setUint32(124, v.getUint32(124, true) ^ 0x5a5a5a5a, true);
  return out;
}

export function withBadFileHeaderChecksum(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer);
  v.setUint32(124, v.getUint32(124, true) ^ 0x01010101, true);
  return out;
}

export function withZeroedChunk(bytes: Uint8Array, chunkIndex: number): Uint8Array {
  const out = bytes.slice();
  chunkView(out, chunkIndex).fill(0);
  return out;
}

export function withBadChunkMagic(bytes: Uint8Array, chunkIndex: number): Uint8Array {
  const out = bytes.slice();
  chunkView(out, chunkIndex).set(Buffer.from('ElfChnX\0', 'latin1'), 0);
  return out;
}

/**
 * The record's leading size field disagrees with its trailing copy (checksums resealed so this is the only
 * fault). `delta` is added to the leading size.
 */
export function withRecordSizeMismatch(bytes: Uint8Array, layout: EvtxLayout, chunkIndex: number, recordNo: number, delta = 8): Uint8Array {
  const out = bytes.slice();
  const rec = layout.chunks[chunkIndex]!.records[recordNo]!;
  const v = new DataView(out.buffer);
  v.setUint32(rec.offset + 4, rec.size + delta, true);
  resealChunk(chunkView(out, chunkIndex));
  return out;
}

/** Overwrites `length` bytes of a record's BinXml (from `from` bytes after its 24-byte header) with `fill`. */
export function withGarbledRecordBody(bytes: Uint8Array, layout: EvtxLayout, chunkIndex: number, recordNo: number, from = 0, length = 16, fill = 0xff): Uint8Array {
  const out = bytes.slice();
  const rec = layout.chunks[chunkIndex]!.records[recordNo]!;
  const start = rec.offset + RECORD_HEADER_SIZE + from;
  out.fill(fill, start, Math.min(start + length, rec.offset + rec.size - 4));
  resealChunk(chunkView(out, chunkIndex));
  return out;
}

export function truncated(bytes: Uint8Array, length: number): Uint8Array {
  return bytes.slice(0, length);
}
