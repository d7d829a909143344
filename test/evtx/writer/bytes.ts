/**
 * A growable little-endian byte buffer that knows where it sits inside an EVTX chunk.
 *
 * BinXml refers to names and templates by chunk-relative offsets, so every write has to know its absolute
 * position; `base` is the chunk offset of byte 0 of this buffer.
 */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(readonly base = 0, capacity = 1024) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  /** Chunk-relative offset of the next byte to be written. */
  get position(): number {
    return this.base + this.length;
  }

  private reserve(n: number): number {
    const at = this.length;
    if (at + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < at + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.length += n;
    return at;
  }

  u8(v: number): this {
    const at = this.reserve(1);
    this.view.setUint8(at, v);
    return this;
  }
  u16(v: number): this {
    const at = this.reserve(2);
    this.view.setUint16(at, v, true);
    return this;
  }
  i16(v: number): this {
    const at = this.reserve(2);
    this.view.setInt16(at, v, true);
    return this;
  }
  u32(v: number): this {
    const at = this.reserve(4);
    this.view.setUint32(at, v >>> 0, true);
    return this;
  }
  i32(v: number): this {
    const at = this.reserve(4);
    this.view.setInt32(at, v, true);
    return this;
  }
  u64(v: bigint): this {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt.asUintN(64, v), true);
    return this;
  }
  i64(v: bigint): this {
    const at = this.reserve(8);
    this.view.setBigInt64(at, BigInt.asIntN(64, v), true);
    return this;
  }
  f32(v: number): this {
    const at = this.reserve(4);
    this.view.setFloat32(at, v, true);
    return this;
  }
  f64(v: number): this {
    const at = this.reserve(8);
    this.view.setFloat64(at, v, true);
    return this;
  }
  bytes(b: Uint8Array): this {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
    return this;
  }
  /** UTF-16LE code units of `s`, no terminator. */
  utf16(s: string): this {
    for (let i = 0; i < s.length; i++) this.u16(s.charCodeAt(i));
    return this;
  }
  zeros(n: number): this {
    this.reserve(n); // fresh bytes are already zero
    return this;
  }

  /** Overwrites a u16/u32 at a buffer-relative index (for sizes known only after the content is written). */
  patchU16(index: number, v: number): void {
    this.view.setUint16(index, v, true);
  }
  patchU32(index: number, v: number): void {
    this.view.setUint32(index, v >>> 0, true);
  }

  toBytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
