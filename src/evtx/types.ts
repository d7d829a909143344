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
   * Eager mode: how a record is proven decodable while iterating, instead of rendering its tree. It must throw
   * exactly when root() would (e.g. try a cheaper reading and fall back to root() when it gives up). Default: root().
   */
  prove?: (record: EvtxRecord) => void;
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
