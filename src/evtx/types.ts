/** Items and settings shared by the chunk, file and public layers. */
import type { EvtxRecord } from './record.js';

export interface ParserSettings {
  /** Verify header and chunk CRC32s (default true). A mismatch is reported as an error item; the data is still used. */
  validateChecksums?: boolean;
  /**
   * Default false: every record's BinXml is rendered while iterating, so a record that fails to decode
   * becomes an error item. When true, records are yielded after their header checks only and root() may
   * throw (for consumers that skip most records, e.g. behind a literal prefilter).
   */
  lazy?: boolean;
  /**
   * Eager mode: how a record is proven decodable while iterating. 'tree' (default): its element tree is rendered.
   * 'fields': its event fields are read (fields.ts), the tree rendered only when that gives up (so the record
   * fails exactly when root() would); the fields read are kept for the record's readEventFields.
   */
  proveBy?: 'tree' | 'fields';
}

/** A located problem; parsing goes on after it. */
export interface EvtxError {
  file: string;
  chunkIndex?: number;
  /** File offset of the damaged record or chunk. */
  offset?: number;
  recordId?: number;
  reason: string;
}

export type EvtxItem = { record: EvtxRecord } | { error: EvtxError };
