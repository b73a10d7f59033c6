/**
 * HyperLogLog's arithmetic, shared by the visitor sketches (visitor-sketch.ts: history,
 * totals; window-visitors.ts: the sliding window). 2^12 registers: a standard error of
 * 1.04 / sqrt(4096) = 1.63%. A 64-bit hash (key-hash.ts) gives the register (its top 12
 * bits) and the rank (1 + the leading zeros of the other 52).
 */
export const HLL_P = 12;
export const HLL_M = 1 << HLL_P;
/** The relative standard error of an estimate: what the API reports beside approximate visitors. */
export const HLL_ERROR = 1.04 / Math.sqrt(HLL_M);
/** The largest rank: 52 bits all zero. */
const Q = 64 - HLL_P;

export function hllRegister(hi: number): number {
  return hi >>> (32 - HLL_P);
}

export function hllRank(hi: number, lo: number): number {
  const top = hi << HLL_P;
  if (top !== 0) return Math.clz32(top) + 1;
  return 32 - HLL_P + Math.clz32(lo) + 1;
}

/**
 * The cardinality of the registers, by Ertl's improved estimator ("New cardinality
 * estimation algorithms for HyperLogLog sketches", 2017): unbiased from a handful to
 * billions without HyperLogLog++'s empirical bias tables.
 */
export function hllEstimate(registers: Uint8Array): number {
  const c = histogram;
  c.fill(0);
  for (let i = 0; i < HLL_M; i++) c[registers[i]!]!++;
  const m = HLL_M;
  let z = m * tau(1 - c[Q + 1]! / m);
  for (let k = Q; k >= 1; k--) z = 0.5 * (z + c[k]!);
  z += m * sigma(c[0]! / m);
  return (m * m) / (2 * Math.LN2 * z);
}

const histogram = new Float64Array(Q + 2);

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const prev = z;
    z += x * y;
    y += y;
    if (prev === z) return z;
  }
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    const prev = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
    if (prev === z) return z / 3;
  }
}
