/**
 * An event record: signature `**\0\0`, size u32, record id u64, written time FILETIME, BinXml, size copy u32.
 * The BinXml is parsed and rendered only when asked (root()), against the chunk's caches.
 */
import { fail } from './bytes.js';
import { instantiate } from './binxml/templates.js';
import { newWalk } from './binxml/walker.js';
import { parseFragment, type BinXmlContext, type BxNode } from './binxml/tokens.js';
import { filetimeToIso } from './binxml/values.js';
import type { XmlNode } from './xmlTree.js';
import type { EventFields } from './fieldsParts.js';

export const RECORD_SIGNATURE = 0x00002a2a;
export const RECORD_HEADER_SIZE = 24;
/** Header + trailing size copy. */
export const RECORD_MIN_SIZE = 28;

export interface EvtxRecord {
  recordId: number;
  /** Written time, ISO 8601 UTC with 7 fractional digits and 'Z'. */
  timestamp: string;
  chunkIndex: number;
  /** File offset of the record. */
  offset: number;
  /**
   * True when the record was found by scanning for the next record signature after damage in its chunk.
   * Such records are real data (libevtx's recovery mode finds them too) but a reader that stops at the
   * damage (the Rust crate, python-evtx) does not return them; counts are reported separately.
   */
  recovered?: boolean;
  /**
   * The record's event rendered to an element tree (templates instantiated). Throws EvtxFormatError on damage.
   * The tree is read-only: literal nodes of a template are shared by every record that uses it.
   */
  root(): XmlNode;
}

export class ChunkRecord implements EvtxRecord {
  private tree: XmlNode | undefined;
  private ir: BxNode[] | undefined;
  recovered = false;
  /** Event fields read while the parser proved the record (ParserSettings.proveBy); null: that reading gave up. */
  provenFields: EventFields | null | undefined = undefined;

  constructor(
    private readonly ctx: BinXmlContext,
    readonly chunkIndex: number,
    /** Offset of the record in its chunk. */
    readonly chunkOffset: number,
    readonly offset: number,
    readonly size: number,
    readonly recordId: number,
  ) {}

  get timestamp(): string {
    const v = this.ctx.view;
    return filetimeToIso(v.getUint32(this.chunkOffset + 20, true), v.getUint32(this.chunkOffset + 16, true));
  }

  /** The record's BinXml as parsed tokens (templates resolved from the chunk cache, values not decoded). */
  tokens(): BxNode[] {
    if (!this.ir) {
      const start = this.chunkOffset + RECORD_HEADER_SIZE;
      this.ir = parseFragment(this.ctx, start, this.chunkOffset + this.size - 4, false, 0);
    }
    return this.ir;
  }

  root(): XmlNode {
    if (!this.tree) {
      const out: XmlNode[] = [];
      instantiate(newWalk(this.ctx), this.tokens(), null, 0, out);
      const el = out.find((n) => n.kind === 'element');
      if (!el) fail('record holds no element', this.chunkOffset);
      this.tree = el;
    }
    return this.tree;
  }

  /** Chunk buffer and the byte range of this record's BinXml (for byte-level prefilters). */
  raw(): { ctx: BinXmlContext; start: number; end: number } {
    return { ctx: this.ctx, start: this.chunkOffset + RECORD_HEADER_SIZE, end: this.chunkOffset + this.size - 4 };
  }
}
