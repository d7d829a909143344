/**
 * Work partitioning: every event of one host goes to one partition, so the worker that owns the partition
 * sees that host's whole stream (process trees, incidents are per host) in order.
 */

/** FNV-1a (32 bit) of the lower-cased host name, modulo the partition count: stable across processes and releases. */
export function partitionOf(host: string, partitions: number): number {
  let h = 0x811c9dc5;
  const s = host.toLowerCase();
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}

/** Parses `0,1,5` or `0-3,7`; every number must be < `count`. */
export function parsePartitionList(text: string, count: number): number[] {
  const out = new Set<number>();
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`partitions: "${part}" is not a number or a range a-b`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new Error(`partitions: empty range "${part}"`);
    for (let p = from; p <= to; p++) {
      if (p >= count) throw new Error(`partitions: ${p} is out of range (the stream has ${count} partitions: 0-${count - 1})`);
      out.add(p);
    }
  }
  if (out.size === 0) throw new Error('partitions: expected at least one');
  return [...out].sort((a, b) => a - b);
}
