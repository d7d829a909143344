/**
 * A 64 KiB chunk: a 512-byte header (with the chunk's name-offset and template-pointer tables), then records.
 * The chunk is the unit of caching: names and template definitions are resolved against it alone, so a
 * damaged chunk damages nothing else.
 */
import { crc32 } from 'node:zlib';
import { asBuffer, EvtxFormatError, viewOf } from './bytes.js';
import { FLAG_NO_CRC32 } from './fileHeader.js';
import type { BinXmlContext } from './binxml/tokens.js';
import { proveFields } from './fields.js';
import { ChunkRecord, RECORD_HEADER_SIZE, RECORD_MIN_SIZE, RECORD_SIGNATURE } from './record.js';
import type { EvtxItem, ParserSettings } from './types.js';

export const CHUNK_HEADER_SIZE = 512;
const CHUNK_MAGIC = 'ElfChnk\0';
const SIGNATURE_BYTES = Buffer.from([0x2a, 0x2a, 0x00, 0x00]);

export interface ChunkHeader {
  firstRecordNumber: number;
  lastRecordNumber: number;
  firstRecordId: number;
  lastRecordId: number;
  headerSize: number;
  lastRecordOffset: number;
  freeSpaceOffset: number;
  recordsChecksum: number;
  flags: number;
  headerChecksum: number;
}

export function readChunkHeader(view: DataView): ChunkHeader {
  const u64 = (o: number): number => view.getUint32(o, true) + view.getUint32(o + 4, true) * 4294967296;
  return {
    firstRecordNumber: u64(8),
    lastRecordNumber: u64(16),
    firstRecordId: u64(24),
    lastRecordId: u64(32),
    headerSize: view.getUint32(40, true),
    lastRecordOffset: view.getUint32(44, true),
    freeSpaceOffset: view.getUint32(48, true),
    recordsChecksum: view.getUint32(52, true),
    flags: view.getUint32(120, true),
    headerChecksum: view.getUint32(124, true),
  };
}

export interface ChunkLocation {
  file: string;
  chunkIndex: number;
  /** File offset of the chunk. */
  fileOffset: number;
  /**
   * Whether a chunk without the ElfChnk signature is reported. False past the chunk count of the file header
   * (preallocated space often holds leftovers) and when the file header itself is not EVTX.
   */
  reportBadMagic?: boolean;
}

function isAllZero(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Records of one chunk, with errors for what is damaged. `input` is the chunk's bytes (up to 64 KiB). */
export function* parseChunk(input: Uint8Array, loc: ChunkLocation, settings: ParserSettings = {}): Generator<EvtxItem> {
  const buf = asBuffer(input);
  const at = { file: loc.file, chunkIndex: loc.chunkIndex, offset: loc.fileOffset };
  if (buf.length < CHUNK_HEADER_SIZE) {
    if (!isAllZero(buf, 0, buf.length)) yield { error: { ...at, reason: `truncated chunk (${buf.length} bytes)` } };
    return;
  }
  if (buf.toString('latin1', 0, 8) !== CHUNK_MAGIC) {
    // Unused (zeroed) chunks are normal at the end of a file and in carved ones: skipped silently.
    if (loc.reportBadMagic !== false && !isAllZero(buf, 0, buf.length)) {
      yield { error: { ...at, reason: 'bad chunk signature (not ElfChnk); chunk skipped' } };
    }
    return;
  }
  const view = viewOf(buf);
  const header = readChunkHeader(view);
  const freeOk = header.freeSpaceOffset >= CHUNK_HEADER_SIZE && header.freeSpaceOffset <= buf.length;
  const end = freeOk ? header.freeSpaceOffset : buf.length;

  if (settings.validateChecksums !== false && !(header.flags & FLAG_NO_CRC32)) {
    const headerCrc = crc32(buf.subarray(128, CHUNK_HEADER_SIZE), crc32(buf.subarray(0, 120)));
    if (headerCrc !== header.headerChecksum) {
      yield { error: { ...at, reason: `chunk header checksum mismatch (stored 0x${hex(header.headerChecksum)}, computed 0x${hex(headerCrc)}); data used anyway` } };
    }
    if (freeOk) {
      const dataCrc = crc32(buf.subarray(CHUNK_HEADER_SIZE, end));
      if (dataCrc !== header.recordsChecksum) {
        yield { error: { ...at, reason: `chunk records checksum mismatch (stored 0x${hex(header.recordsChecksum)}, computed 0x${hex(dataCrc)}); data used anyway` } };
      }
    }
  }

  const ctx: BinXmlContext = { buf, view, names: new Map(), templates: new Map() };
  let off = CHUNK_HEADER_SIZE;
  // Set once the walk had to skip damage by searching for the next record signature: what follows is
  // recovered data, yielded but marked so counts can tell it from the records of an intact walk.
  let resynced = false;
  while (off + RECORD_MIN_SIZE <= end) {
    const fileOffset = loc.fileOffset + off;
    if (view.getUint32(off, true) !== RECORD_SIGNATURE) {
      if (isAllZero(buf, off, end)) break; // slack after the last record
      const next = buf.indexOf(SIGNATURE_BYTES, off + 1);
      const reason = `no record signature at chunk offset 0x${hex(off)}`;
      if (next < 0 || next + RECORD_MIN_SIZE > end) {
        yield { error: { ...at, offset: fileOffset, reason: `${reason}; rest of chunk skipped` } };
        break;
      }
      yield { error: { ...at, offset: fileOffset, reason: `${reason}; resumed at 0x${hex(next)}` } };
      off = next;
      resynced = true;
      continue;
    }
    const size = view.getUint32(off + 4, true);
    const recordId = view.getUint32(off + 8, true) + view.getUint32(off + 12, true) * 4294967296;
    const sizeOk = size >= RECORD_MIN_SIZE && off + size <= buf.length;
    // A wrong trailing size copy alone is common in records cut short by a crash; the record is kept
    // when its BinXml still decodes (its end-of-stream token comes first), as the Rust crate does.
    const trailerOk = sizeOk && view.getUint32(off + size - 4, true) === size;
    let record: ChunkRecord | null = null;
    let failure: unknown = null;
    if (sizeOk) {
      record = new ChunkRecord(ctx, loc.chunkIndex, off, fileOffset, size, recordId);
      if (!settings.lazy || !trailerOk) {
        try {
          if (settings.proveBy === 'fields') proveFields(record);
          else record.root();
        } catch (err) {
          failure = err;
        }
      }
    }
    if (record && failure === null) {
      if (trailerOk) off += size;
      else {
        // The size field itself may be what is wrong: continue at the next signature if it comes sooner.
        const next = buf.indexOf(SIGNATURE_BYTES, off + RECORD_HEADER_SIZE);
        off = next > off && next < off + size ? next : off + size;
        yield {
          error: {
            ...at,
            offset: fileOffset,
            recordId,
            reason: `record size fields disagree (size ${size}, trailing copy ${view.getUint32(record.chunkOffset + size - 4, true)}); its BinXml decodes, record kept; next record at chunk offset 0x${hex(off)}`,
          },
        };
      }
      record.recovered = resynced;
      yield { record };
      continue;
    }
    if (record && trailerOk) {
      // Sizes agree, the BinXml is damaged: report it and go on with the next record.
      off += size;
      yield { error: { ...at, offset: fileOffset, recordId, reason: describe(failure) } };
      continue;
    }
    const next = buf.indexOf(SIGNATURE_BYTES, off + 4);
    const resume = next >= 0 && next + RECORD_MIN_SIZE <= end ? next : -1;
    const detail = sizeOk ? `, trailing copy ${view.getUint32(off + size - 4, true)}: ${describe(failure)}` : '';
    yield {
      error: {
        ...at,
        offset: fileOffset,
        recordId,
        reason: `record size fields disagree (size ${size}${detail}); ${resume < 0 ? 'rest of chunk skipped' : `resumed at chunk offset 0x${hex(resume)}`}`,
      },
    };
    if (resume < 0) break;
    off = resume;
    resynced = true;
  }
}

export function describe(err: unknown): string {
  if (err instanceof EvtxFormatError) return `${err.message} (chunk offset 0x${hex(err.offset)})`;
  if (err instanceof RangeError) return `damaged record: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

function hex(n: number): string {
  return n.toString(16);
}
