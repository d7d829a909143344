/**
 * A byte stream we can peek into (to sniff the format) and then read on from where it started, without copying
 * more than the first chunk.
 */
export class ByteReader {
  private readonly iterator: AsyncIterator<Buffer | Uint8Array | string>;
  private pending: Buffer[] = [];
  private done = false;

  constructor(
    source: AsyncIterable<Buffer | Uint8Array | string>,
    private readonly onBytes?: (bytes: number) => void,
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** At least `n` bytes from the start (fewer at end of input); does not consume them. */
  async peek(n: number): Promise<Buffer> {
    let have = this.pending.reduce((sum, b) => sum + b.length, 0);
    while (have < n && !this.done) {
      const chunk = await this.next();
      if (chunk === undefined) break;
      this.pending.push(chunk);
      have += chunk.length;
    }
    if (this.pending.length > 1) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0] ?? Buffer.alloc(0);
  }

  /** Every chunk from the start, peeked ones included. */
  async *chunks(): AsyncGenerator<Buffer> {
    const first = this.pending;
    this.pending = [];
    for (const b of first) yield b;
    for (;;) {
      const chunk = await this.next();
      if (chunk === undefined) return;
      yield chunk;
    }
  }

  /** Stops the underlying stream (e.g. when another reader takes over the file). */
  async close(): Promise<void> {
    this.done = true;
    await this.iterator.return?.();
  }

  private async next(): Promise<Buffer | undefined> {
    if (this.done) return undefined;
    const r = await this.iterator.next();
    if (r.done === true) {
      this.done = true;
      return undefined;
    }
    const v = r.value;
    const chunk = typeof v === 'string' ? Buffer.from(v) : Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    this.onBytes?.(chunk.length);
    return chunk;
  }
}
