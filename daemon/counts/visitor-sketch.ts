import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { LogflowError } from '../errors.js';
import { HLL_M, hllEstimate, hllRank, hllRegister } from './hyperloglog.js';

/**
 * Distinct visitors (client addresses, by their 64-bit hash) are counted exactly up to this
 * many, then estimated by HyperLogLog: a sketch of 4,096 registers takes what 512 hashes do.
 */
export const EXACT_VISITORS = 512;

const EXACT = 1;
const SKETCH = 2;
/**
 * The registers deflated: what `encode` writes (the history keeps a sketch per key, status
 * and bucket). Measured on 4,096 registers: 600-880 bytes just past 512 visitors, ~1,750
 * from 10,000 to 1M, against 4,096 raw; 40-110 us to deflate, 15-55 us to inflate.
 */
const DEFLATED = 3;

/**
 * The distinct visitors of a key over a time that only grows (a minute of history, a whole
 * analyzed log): an exact set of hashes while it is small, HyperLogLog registers after.
 * Sketches merge (a range of minutes, the statuses of one URL), and have bytes (a history
 * row's `visitors`, a partial's).
 */
export class VisitorSketch {
  /** Open addressing over (hi, lo) pairs; (0, 0) is an empty slot (a hash of (0, 0) is stored as (0, 1)). */
  #set: Int32Array | undefined = new Int32Array(16);
  #n = 0;
  #registers: Uint8Array | undefined;

  /** Whether the count is exact (a set), not an estimate. */
  get exact(): boolean {
    return this.#registers === undefined;
  }

  /** Distinct visitors: exact, or HyperLogLog's estimate (rounded). */
  count(): number {
    return this.#registers ? Math.round(hllEstimate(this.#registers)) : this.#n;
  }

  add(hi: number, lo: number): void {
    if (this.#registers) {
      setRegister(this.#registers, hi, lo);
      return;
    }
    if (hi === 0 && lo === 0) lo = 1;
    let set = this.#set!;
    let mask = (set.length >> 1) - 1;
    for (let s = (hi ^ Math.imul(lo, 0x9e3779b1)) & mask; ; s = (s + 1) & mask) {
      const h = set[2 * s]!;
      const l = set[2 * s + 1]!;
      if (h === 0 && l === 0) {
        set[2 * s] = hi;
        set[2 * s + 1] = lo;
        break;
      }
      if (h === hi && l === lo) return;
    }
    if (++this.#n > EXACT_VISITORS) {
      this.#toSketch();
      return;
    }
    if (this.#n * 2 > mask + 1) {
      const old = set;
      set = this.#set = new Int32Array(old.length * 2);
      mask = (set.length >> 1) - 1;
      for (let i = 0; i < old.length; i += 2) {
        const h = old[i]!;
        const l = old[i + 1]!;
        if (h === 0 && l === 0) continue;
        let s = (h ^ Math.imul(l, 0x9e3779b1)) & mask;
        while (set[2 * s] !== 0 || set[2 * s + 1] !== 0) s = (s + 1) & mask;
        set[2 * s] = h;
        set[2 * s + 1] = l;
      }
    }
  }

  /** Adds every visitor of `other`. */
  merge(other: VisitorSketch): void {
    if (other.#registers) {
      if (!this.#registers) this.#toSketch();
      const r = this.#registers!;
      const o = other.#registers;
      for (let i = 0; i < HLL_M; i++) if (o[i]! > r[i]!) r[i] = o[i]!;
      return;
    }
    const set = other.#set!;
    for (let i = 0; i < set.length; i += 2) if (set[i] !== 0 || set[i + 1] !== 0) this.add(set[i]!, set[i + 1]!);
  }

  /** Adds HyperLogLog registers (a sliding sketch's, at some time): the count becomes an estimate. */
  mergeRegisters(registers: Uint8Array): void {
    if (!this.#registers) this.#toSketch();
    const r = this.#registers!;
    for (let i = 0; i < HLL_M; i++) if (registers[i]! > r[i]!) r[i] = registers[i]!;
  }

  /**
   * Adds the visitors of an encoded sketch (`encode`'s bytes `buf[start, end)`), without
   * making it an object first: the history's rollups and ranges merge many of them.
   */
  mergeEncoded(buf: Buffer, start = 0, end = buf.length): void {
    if (end <= start) return;
    const kind = buf[start];
    if (kind === EXACT) {
      if ((end - start - 1) % 8 !== 0) throw new LogflowError('LF_CHECKPOINT_CORRUPT', `a set of visitors is 1 + 8 bytes per visitor, not ${end - start}`);
      for (let p = start + 1; p < end; p += 8) this.add(buf.readInt32LE(p), buf.readInt32LE(p + 4));
      return;
    }
    this.mergeRegisters(registersOf(buf, start, end));
  }

  /**
   * Its HyperLogLog registers (a set turns to a sketch first), for a caller to max-combine
   * into in place: `mergeRegisters` without a scratch array per merge (a sliding sketch's
   * registers, straight from its entries).
   */
  sketchRegisters(): Uint8Array {
    if (!this.#registers) this.#toSketch();
    return this.#registers!;
  }

  /** Max-combines this sketch's registers into `into` (its exact hashes as registers). */
  registersInto(into: Uint8Array): void {
    if (this.#registers) {
      const r = this.#registers;
      for (let i = 0; i < HLL_M; i++) if (r[i]! > into[i]!) into[i] = r[i]!;
      return;
    }
    const set = this.#set!;
    for (let i = 0; i < set.length; i += 2) if (set[i] !== 0 || set[i + 1] !== 0) setRegister(into, set[i]!, set[i + 1]!);
  }

  /** Calls `each(hi, lo)` for every hash of an exact set (nothing for a sketch). */
  forEachHash(each: (hi: number, lo: number) => void): void {
    const set = this.#set;
    if (!set) return;
    for (let i = 0; i < set.length; i += 2) if (set[i] !== 0 || set[i + 1] !== 0) each(set[i]!, set[i + 1]!);
  }

  /**
   * `[1][hi i32, lo i32]...` for a set (its size from the length: most of the history's
   * rows hold one or two visitors), `[3][the 4096 registers deflated]` for a sketch
   * (`[2][4096 registers]`, raw, is read too).
   */
  encode(): Buffer {
    if (this.#registers) {
      const deflated = deflateRawSync(this.#registers);
      const out = Buffer.allocUnsafe(1 + deflated.length);
      out[0] = DEFLATED;
      deflated.copy(out, 1);
      return out;
    }
    const out = Buffer.allocUnsafe(1 + 8 * this.#n);
    out[0] = EXACT;
    const set = this.#set!;
    let p = 1;
    for (let i = 0; i < set.length; i += 2) {
      if (set[i] === 0 && set[i + 1] === 0) continue;
      out.writeInt32LE(set[i]!, p);
      out.writeInt32LE(set[i + 1]!, p + 4);
      p += 8;
    }
    return out;
  }

  /** A sketch from `encode`'s bytes `buf[start, end)` (no bytes: no visitor). */
  static decode(buf: Buffer, start = 0, end = buf.length): VisitorSketch {
    const v = new VisitorSketch();
    v.mergeEncoded(buf, start, end);
    return v;
  }

  #toSketch(): void {
    const registers = new Uint8Array(HLL_M);
    const set = this.#set;
    if (set) for (let i = 0; i < set.length; i += 2) if (set[i] !== 0 || set[i + 1] !== 0) setRegister(registers, set[i]!, set[i + 1]!);
    this.#registers = registers;
    this.#set = undefined;
    this.#n = 0;
  }
}

/**
 * `encode`'s bytes of an exact set without making the sketch: the distinct hashes
 * `pairs[2k], pairs[2k + 1]` for k = `order[from..to)` (at most EXACT_VISITORS of them).
 */
export function exactSetBytes(pairs: ArrayLike<number>, order: ArrayLike<number>, from: number, to: number): Buffer {
  const out = Buffer.allocUnsafe(1 + 8 * (to - from));
  out[0] = EXACT;
  for (let i = from, p = 1; i < to; i++, p += 8) {
    const k = order[i]!;
    out.writeInt32LE(pairs[2 * k]!, p);
    out.writeInt32LE(pairs[2 * k + 1]!, p + 4);
  }
  return out;
}

/** The registers of an encoded sketch (kind 2 or 3) at `buf[start, end)`. */
function registersOf(buf: Buffer, start: number, end: number): Uint8Array {
  const kind = buf[start];
  if (kind === SKETCH) {
    if (end - start !== 1 + HLL_M) throw new LogflowError('LF_CHECKPOINT_CORRUPT', `a visitor sketch is ${1 + HLL_M} bytes, not ${end - start}`);
    return buf.subarray(start + 1, end);
  }
  if (kind !== DEFLATED) throw new LogflowError('LF_CHECKPOINT_CORRUPT', `not a visitor sketch (kind ${kind})`);
  let registers: Buffer;
  try {
    registers = inflateRawSync(buf.subarray(start + 1, end));
  } catch (err) {
    throw new LogflowError('LF_CHECKPOINT_CORRUPT', `a deflated visitor sketch does not inflate: ${(err as Error).message}`);
  }
  if (registers.length !== HLL_M) throw new LogflowError('LF_CHECKPOINT_CORRUPT', `a visitor sketch has ${HLL_M} registers, not ${registers.length}`);
  return registers;
}

export function setRegister(registers: Uint8Array, hi: number, lo: number): void {
  const j = hllRegister(hi);
  const r = hllRank(hi, lo);
  if (r > registers[j]!) registers[j] = r;
}
