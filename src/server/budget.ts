/**
 * The in-flight budget: bytes of ingest request bodies held in memory at once (wire bytes, or inflated bytes for
 * a compressed body, whatever its headers say). A request is admitted with a small initial charge and grows its
 * reservation as its body is held; a request that would push the total over the limit while others hold bytes is
 * refused (429). So neither parallel compression bombs nor slow uploads that merely declare a large
 * Content-Length can starve other shippers: what is charged is what is actually held.
 */
export class InflightBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Bytes currently reserved. */
  get bytes(): number {
    return this.used;
  }

  /** A reservation of `initial` bytes, or undefined when the budget is spent. The only request is always admitted. */
  admit(initial: number): Reservation | undefined {
    if (this.used > 0 && this.used + initial > this.limit) return undefined;
    this.used += initial;
    return new Reservation(this, initial);
  }

  /** @internal grows a reservation holding `held` bytes by `extra`; false when over the limit while others hold bytes. */
  take(held: number, extra: number): boolean {
    if (this.used - held > 0 && this.used + extra > this.limit) return false;
    this.used += extra;
    return true;
  }

  /** @internal */
  give(bytes: number): void {
    this.used -= bytes;
  }
}

export class Reservation {
  private released = false;

  constructor(
    private readonly budget: InflightBudget,
    private held: number,
  ) {}

  /** Makes the reservation cover `total` bytes; false when the budget cannot (the caller answers 429). */
  cover(total: number): boolean {
    if (this.released || total <= this.held) return true;
    if (!this.budget.take(this.held, total - this.held)) return false;
    this.held = total;
    return true;
  }

  /** Idempotent: called when the response is done or the connection goes. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.give(this.held);
  }
}
