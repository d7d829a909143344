/**
 * Bounds-checked little-endian reads over one buffer (a chunk, or the file header).
 *
 * Every read checks against `end` so that a damaged length or offset field turns into an EvtxFormatError
 * at the exact offset, never an out-of-range read or an unbounded loop.
 */

/** A structural problem in the data, located by its offset in the buffer being parsed (chunk-relative for chunks). */
export class EvtxFormatError extends Error {
  constructor(
    reason: string,
    readonly offset: number,
  ) {
    super(reason);
    this.name = 'EvtxFormatError';
  }
}

export function fail(reason: string, offset: number): never {
  throw new EvtxFormatError(reason, offset);
}

/** A forward-only reader with a hard end. Positions are offsets into `buf`. */
export class Cursor {
  constructor(
    readonly buf: Buffer,
    readonly view: DataView,
    public pos: number,
    readonly end: number,
  ) {}

  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
      fail(`${what}: needs ${n} bytes at 0x${this.pos.toString(16)}, only ${Math.max(0, this.end - this.pos)} left`, this.pos);
    }
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'uint16'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(what = 'uint32'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }

  /** `count` UTF-16LE code units at the cursor. */
  utf16(count: number, what: string): string {
    this.need(count * 2, what);
    const s = this.buf.toString('utf16le', this.pos, this.pos + count * 2);
    this.pos += count * 2;
    return s;
  }
}

export function viewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}
