/**
 * A Bloom filter over stored event keys, so a batch of new events (the common case) needs no store lookup
 * before detection: "not in the filter" means "never stored"; "maybe" is checked against the store.
 * Keys are already SHA-256 hex (see storedKey), so their bits serve as the hash functions.
 */
export class KeyFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;
  private added = 0;

  /** `capacity` keys at about 1% false positives (10 bits per key, 7 probes). */
  constructor(readonly capacity: number) {
    let m = 1 << 20;
    while (m < capacity * 10 && m < 1 << 30) m *= 2;
    this.bits = new Uint32Array(m / 32);
    this.mask = m - 1;
  }

  get count(): number {
    return this.added;
  }

  /** Past capacity the false-positive rate climbs (more store lookups, never a wrong answer): time to rebuild. */
  get saturated(): boolean {
    return this.added > this.capacity * 2;
  }

  add(key: string): void {
    const [h1, h2] = hashes(key);
    for (let i = 0; i < 7; i++) {
      const b = (h1 + i * h2) & this.mask;
      this.bits[b >>> 5]! |= 1 << (b & 31);
    }
    this.added++;
  }

  mightHave(key: string): boolean {
    const [h1, h2] = hashes(key);
    for (let i = 0; i < 7; i++) {
      const b = (h1 + i * h2) & this.mask;
      if ((this.bits[b >>> 5]! & (1 << (b & 31))) === 0) return false;
    }
    return true;
  }
}

function hashes(key: string): [number, number] {
  // Non-hex keys (never produced by storedKey) still work: parseInt yields NaN → 0, only the rate suffers.
  const h1 = parseInt(key.slice(0, 8), 16) | 0;
  const h2 = (parseInt(key.slice(8, 16), 16) | 1) >>> 0;
  return [h1 >>> 0, h2];
}
