import { parseClf } from './clf-time.js';

/**
 * The times JSON access logs write, from bytes: a number of epoch seconds (Caddy's `ts`,
 * fractions kept), milliseconds, microseconds or nanoseconds (told apart by size: 1e11 s
 * is the year 5138, 1e11 ms is 1973), or a string holding one of those, ISO 8601
 * (Traefik's `StartUTC`, nginx's `$time_iso8601`) or Apache's `10/Oct/2000:13:55:36 -0700`.
 * NaN when it is none of them.
 */
export function epochToMs(n: number): number {
  const a = Math.abs(n);
  if (a < 1e11) return Math.round(n * 1000);
  if (a < 1e14) return Math.round(n);
  if (a < 1e17) return Math.round(n / 1000);
  return Math.round(n / 1e6);
}

/** A JSON number `buf[start, end)` (no allocation for plain decimals). NaN when it is not one. */
export function numberAt(buf: Buffer, start: number, end: number): number {
  let p = start;
  let negative = false;
  if (buf[p] === 45) {
    negative = true;
    p++;
  }
  if (p >= end) return NaN;
  let v = 0;
  let digits = 0;
  for (; p < end; p++) {
    const d = buf[p]! - 48;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
    digits++;
  }
  if (digits === 0) return NaN;
  if (p < end && buf[p] === 46) {
    p++;
    let scale = 0.1;
    let frac = 0;
    for (; p < end; p++) {
      const d = buf[p]! - 48;
      if (d < 0 || d > 9) break;
      frac += d * scale;
      scale /= 10;
    }
    v += frac;
  }
  if (p < end) {
    // An exponent, or something else: the slow, exact way.
    const n = Number(buf.toString('latin1', start, end));
    return Number.isFinite(n) ? n : NaN;
  }
  // Past 15 digits a double is not exact: read them exactly as JavaScript does.
  if (digits > 15) return Number(buf.toString('latin1', start, end));
  return negative ? -v : v;
}

function digits(buf: Buffer, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = buf[at + i]! - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
}

/** ISO 8601, `YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM|+HHMM]` (no zone: UTC), to ms; NaN if it is not one. */
export function parseIso(buf: Buffer, start: number, end: number): number {
  if (end - start < 19 || buf[start + 4] !== 45 || buf[start + 7] !== 45 || buf[start + 13] !== 58 || buf[start + 16] !== 58) return NaN;
  const sep = buf[start + 10];
  if (sep !== 84 && sep !== 116 && sep !== 32) return NaN; // T, t or a space
  const year = digits(buf, start, 4);
  const month = digits(buf, start + 5, 2);
  const day = digits(buf, start + 8, 2);
  const h = digits(buf, start + 11, 2);
  const m = digits(buf, start + 14, 2);
  const s = digits(buf, start + 17, 2);
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= 31 && h <= 23 && m <= 59 && s <= 60)) return NaN;
  let p = start + 19;
  let ms = 0;
  if (p < end && (buf[p] === 46 || buf[p] === 44)) {
    p++;
    let scale = 100;
    const from = p;
    for (; p < end; p++) {
      const d = buf[p]! - 48;
      if (d < 0 || d > 9) break;
      ms += d * scale;
      scale /= 10;
    }
    if (p === from) return NaN;
    ms = Math.floor(ms);
  }
  let zoneMs = 0;
  if (p < end) {
    const z = buf[p];
    if (z === 90 || z === 122) p++; // Z
    else if (z === 43 || z === 45) {
      const zh = digits(buf, p + 1, 2);
      const colon = buf[p + 3] === 58 ? 1 : 0;
      const zm = p + 3 + colon + 2 <= end ? digits(buf, p + 3 + colon, 2) : 0;
      if (Number.isNaN(zh) || Number.isNaN(zm)) return NaN;
      zoneMs = (z === 45 ? -1 : 1) * (zh * 60 + zm) * 60_000;
      p += 3 + (p + 3 + colon + 2 <= end ? colon + 2 : 0);
    } else return NaN;
  }
  if (p !== end) return NaN;
  return Date.UTC(year, month - 1, day, h, m, s, ms) - zoneMs;
}

/** A time written as text: ISO 8601, epoch digits, or Apache's `[time]`. */
export function textTimeToMs(buf: Buffer, start: number, end: number): number {
  const n = numberAt(buf, start, end);
  if (!Number.isNaN(n)) return epochToMs(n);
  const iso = parseIso(buf, start, end);
  if (!Number.isNaN(iso)) return iso;
  return parseClf(buf, start, end);
}
