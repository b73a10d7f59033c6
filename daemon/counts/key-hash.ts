/**
 * A 64-bit hash of a key's bytes (a client address, for visitors), as two 32-bit halves:
 * FNV-1a and a multiply-xor of its own, each finished with MurmurHash3's fmix32 so that
 * every bit depends on every byte (HyperLogLog reads the top bits of one half and the
 * leading zeros of the rest; addresses differ in their last bytes). Two distinct clients
 * share a hash with probability 2^-64: for the exact sets of a few hundred visitors, never.
 */
export class KeyHash {
  hi = 0;
  lo = 0;

  of(buf: Buffer, start: number, end: number): void {
    let a = 0x811c9dc5;
    let b = 0x9747b28c ^ (end - start);
    for (let i = start; i < end; i++) {
      const x = buf[i]!;
      a = Math.imul(a ^ x, 0x01000193);
      b = Math.imul(b + x, 0x5bd1e995);
      b ^= b >>> 15;
    }
    this.hi = fmix32(a);
    this.lo = fmix32(b ^ a);
  }
}

export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** The hash of a string (tests, tools). */
export function hashOf(text: string): { hi: number; lo: number } {
  const h = new KeyHash();
  const buf = Buffer.from(text, 'utf8');
  h.of(buf, 0, buf.length);
  return { hi: h.hi, lo: h.lo };
}
