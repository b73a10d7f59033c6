import assert from 'node:assert/strict';

/**
 * The independent answer for the dimensions' tests: each combined/common line read by one
 * regex, counted into a dict per key (lines, bytes, distinct clients), never by the daemon's
 * parser or structures.
 */
const LINE = /^(\S+) (\S+) (\S+) \[([^\]]*)\] "([^"]*)" (\d{3}) (\d+|-)(.*)$/;
const REFERER_AGENT = /^ "(.*?)" "(.*)"$/;

export interface ParsedLine {
  readonly client: string;
  readonly user: string;
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly bytes: number;
  readonly referrer: string;
  readonly agent: string;
}

/** A line's fields, or undefined when it is not a combined/common line with a URL. */
export function parseLine(line: string): ParsedLine | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const [method, url] = m[5]!.split(/\s+/);
  if (!method || !url) return undefined;
  const ra = REFERER_AGENT.exec(m[8]!);
  return { client: m[1]!, user: m[3]!, method, url, status: Number(m[6]), bytes: m[7] === '-' ? 0 : Number(m[7]), referrer: ra?.[1] ?? '-', agent: ra?.[2] ?? '-' };
}

export interface KeyMeasures {
  key: string;
  count: number;
  bytes: number;
  visitors: number;
}

/** Per key of `dim`, of the lines whose status is in [lo, hi]: count desc, key asc (byte order). */
export function countBy<L extends Pick<ParsedLine, 'client' | 'status' | 'bytes'>>(lines: readonly L[], dim: keyof L, lo = 0, hi = 999): KeyMeasures[] {
  const byKey = new Map<string, { count: number; bytes: number; clients: Set<string> }>();
  for (const l of lines) {
    if (l.status < lo || l.status > hi) continue;
    const key = String(l[dim]);
    const e = byKey.get(key) ?? { count: 0, bytes: 0, clients: new Set<string>() };
    e.count++;
    e.bytes += l.bytes;
    e.clients.add(l.client);
    byKey.set(key, e);
  }
  return [...byKey]
    .map(([key, e]) => ({ key, count: e.count, bytes: e.bytes, visitors: e.clients.size }))
    .sort((a, b) => b.count - a.count || Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
}

/**
 * Each item's visitors against the dict's distinct clients of its key (`want`): exact and
 * `visitorsExact` up to 512, past it an estimate within 3 standard errors (`error`: the
 * answer's `visitorsError`). Returns how many keys were past 512.
 */
export function assertVisitors(label: string, items: readonly { key: string; visitors: number | null; visitorsExact?: boolean }[], want: readonly KeyMeasures[], error: number): number {
  const distinct = new Map(want.map((i) => [i.key, i.visitors]));
  assert.equal(items.length, distinct.size, `${label}: keys`);
  let estimated = 0;
  for (const item of items) {
    const exact = distinct.get(item.key);
    const line = `${label} ${item.key}: ${item.visitors} visitors, ${exact} distinct clients`;
    assert.ok(exact !== undefined, `${line}: a key of the dict`);
    assert.equal(item.visitorsExact, exact <= 512, `${line}: exact up to 512`);
    if (exact <= 512) assert.equal(item.visitors, exact, line);
    else {
      assert.ok(item.visitors !== null && Math.abs(item.visitors - exact) <= 3 * error * exact, line);
      estimated++;
    }
  }
  return estimated;
}
