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
    const h1 = hexWord(key, 0);
    const h2 = (hexWord(key, 8) | 1) >>> 0;
    for (let i = 0; i < 7; i++) {
      const b = (h1 + i * h2) & this.mask;
      this.bits[b >>> 5]! |= 1 << (b & 31);
    }
    this.added++;
  }

  mightHave(key: string): boolean {
    const h1 = hexWord(key, 0);
    const h2 = (hexWord(key, 8) | 1) >>> 0;
    for (let i = 0; i < 7; i++) {
      const b = (h1 + i * h2) & this.mask;
      if ((this.bits[b >>> 5]! & (1 << (b & 31))) === 0) return false;
    }
    return true;
  }
}

/**
 * The 32-bit value of the 8 hex digits at `at`, read in place (no substring, no tuple: this runs twice per
 * ingested event). Non-hex characters (never produced by storedKey) count as 0: only the false-positive rate suffers.
 */
function hexWord(key: string, at: number): number {
  let v = 0;
  for (let i = at; i < at + 8; i++) v = (v << 4) | hexDigit(key.charCodeAt(i));
  return v >>> 0;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return 0;
}
