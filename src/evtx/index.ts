/**
 * procwatch's EVTX parser — public surface. Knows the binary format only: files → records → element trees.
 *
 * Files are read in 1 MiB blocks of 64 KiB chunks after the 4 KiB header, so memory stays bounded whatever
 * the file size. Damage yields located error items and parsing goes on.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { asBuffer } from './bytes.js';
import { parseChunk } from './chunk.js';
import { CHUNK_SIZE, FILE_HEADER_BLOCK_SIZE, fileHeaderInfo, type FileHeaderInfo } from './fileHeader.js';
import type { EvtxItem, ParserSettings } from './types.js';

export type { EvtxRecord } from './record.js';
export type { EvtxError, EvtxItem, ParserSettings } from './types.js';
export type { XmlNode, XmlElement, XmlAttribute, JsonScalar } from './xmlTree.js';
export { textOf, childElement, attribute } from './xmlTree.js';
export { recordToJson, recordToJsonString } from './render/json.js';
export { recordToXml } from './render/xml.js';
export { renderEvtxFile, runBlocks, CHUNKS_PER_BLOCK, type RenderOptions, type BlockRunOptions, type BlockOutput } from './render/parallel.js';
export { renderRecord, joinRecords, type RenderedBlock, type TextFormat, type BlockJob, type BlockWork } from './render/blocks.js';
export { parseBlock, type BlockLocation } from './block.js';
export { fieldsFromTree, type EventItem, type EventsBlock, type EventsWork, type KeepEvent } from './events.js';
export { fileHeaderInfo, type FileHeaderInfo } from './fileHeader.js';
export { recordMayContain, compileLiterals, type LiteralSet } from './prefilter.js';
export { recordSystemKey, type SystemKey } from './systemKey.js';
export { readEventFields } from './fields.js';
export { addField, intText, normaliseTime, type EventFields, type EventHeader, type FieldValue, type Scalar } from './fieldsParts.js';
export { fallbackCounts, addFallbackCounts, resetFallbackCounts, fallbackSummary, FALLBACK_REASONS, type FallbackReason } from './fallback.js';

function* headerProblems(info: FileHeaderInfo, name: string, settings: ParserSettings): Generator<EvtxItem> {
  if (!info.magicOk) yield { error: { file: name, offset: 0, reason: 'bad file signature (not ElfFile); trying chunks anyway' } };
  else if (settings.validateChecksums !== false && !info.checksumOk) {
    yield { error: { file: name, offset: 0, reason: 'file header checksum mismatch; data used anyway' } };
  }
}

/** Parses an EVTX image held in memory. */
export function* parseEvtxBuffer(input: Uint8Array, name: string, settings: ParserSettings = {}): Iterable<EvtxItem> {
  const buf = asBuffer(input);
  if (buf.length < 128) {
    yield { error: { file: name, offset: 0, reason: `too short for an EVTX file (${buf.length} bytes)` } };
    return;
  }
  const info = fileHeaderInfo(buf);
  yield* headerProblems(info, name, settings);
  for (let i = 0, off = FILE_HEADER_BLOCK_SIZE; off < buf.length; i++, off += CHUNK_SIZE) {
    yield* parseChunk(buf.subarray(off, Math.min(off + CHUNK_SIZE, buf.length)), { file: name, chunkIndex: i, fileOffset: off, reportBadMagic: info.magicOk && i < info.chunkCount }, settings);
  }
}

/** Chunks read per file read: large enough to amortise the syscall and promise costs. */
const CHUNKS_PER_READ = 16;

interface Block {
  buf: Buffer;
  got: number;
}

/**
 * Parses an EVTX file, reading it in blocks of 16 chunks with the next block read while the current one is
 * parsed (every chunk to the end of the file, whatever the header says). Memory: two blocks (2 MiB) plus
 * whatever records the consumer keeps (a record keeps its block alive).
 */
export async function* parseEvtxFile(path: string, settings: ParserSettings = {}): AsyncIterable<EvtxItem> {
  const handle = await open(path, 'r');
  let pending: Promise<Block> | null = null;
  try {
    const head = Buffer.alloc(FILE_HEADER_BLOCK_SIZE);
    const { bytesRead } = await handle.read(head, 0, FILE_HEADER_BLOCK_SIZE, 0);
    if (bytesRead < 128) {
      yield { error: { file: path, offset: 0, reason: `too short for an EVTX file (${bytesRead} bytes)` } };
      return;
    }
    const info = fileHeaderInfo(head);
    yield* headerProblems(info, path, settings);
    const blockSize = CHUNK_SIZE * CHUNKS_PER_READ;
    let position = FILE_HEADER_BLOCK_SIZE;
    let chunkIndex = 0;
    pending = readBlock(handle, blockSize, position);
    while (pending) {
      const { buf, got } = await pending;
      pending = null;
      if (got === 0) break;
      position += got;
      // Read ahead: the next block arrives while this one is parsed.
      if (got === blockSize) {
        pending = readBlock(handle, blockSize, position);
        pending.catch(() => undefined); // observed below; avoids an unhandled rejection if the consumer stops early
      }
      for (let off = 0; off < got; off += CHUNK_SIZE, chunkIndex++) {
        const fileOffset = position - got + off;
        const loc = { file: path, chunkIndex, fileOffset, reportBadMagic: info.magicOk && chunkIndex < info.chunkCount };
        yield* parseChunk(buf.subarray(off, Math.min(off + CHUNK_SIZE, got)), loc, settings);
      }
    }
  } finally {
    if (pending) await pending.catch(() => undefined);
    await handle.close();
  }
}

async function readBlock(handle: FileHandle, size: number, position: number): Promise<Block> {
  // A fresh buffer per block: records handed out keep referring to their chunk's bytes.
  const buf = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const { bytesRead } = await handle.read(buf, got, size - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return { buf, got };
}
