import { createWriteStream } from 'node:fs';

/**
 * A deterministic access-log generator: the same options always give the same bytes.
 * URLs follow a Zipf-like popularity so a top-N is meaningful; a fraction of lines can be
 * malformed on purpose.
 */
export interface GeneratorOptions {
  lines: number;
  urls: number;
  seed: number;
  /** Time of the first line, ms since the epoch. */
  startMs: number;
  /** Seconds the log spans (line times grow evenly across it). */
  spanSeconds: number;
  /** Fraction (0..1) of lines that are not access-log lines. */
  malformed: number;
  format: 'combined' | 'common';
  /** Distinct client addresses. */
  clients: number;
  /**
   * Every URL of the space appears at least once (spread evenly over the log), so a
   * benchmark's "1M distinct URLs" is exact; otherwise the Zipf draw leaves the rarest out.
   */
  everyUrl: boolean;
  /**
   * One dimension whose key of line i is the i-th of `count` distinct ones (round robin), so
   * a benchmark's "1M distinct clients (referrers, agents, users)" is exact: the bench's
   * memory per dimension. The URL and the rest stay as they are.
   */
  distinct?: { readonly dimension: 'client' | 'referrer' | 'agent' | 'user'; readonly count: number } | undefined;
}

export const DEFAULT_OPTIONS: GeneratorOptions = {
  lines: 100_000,
  urls: 1000,
  seed: 1,
  startMs: Date.UTC(2026, 0, 1, 0, 0, 0),
  spanSeconds: 3600,
  malformed: 0,
  format: 'combined',
  clients: 1000,
  everyUrl: false,
};

/** mulberry32: small, fast, good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS = ['GET', 'GET', 'GET', 'GET', 'POST', 'HEAD'];
const STATUSES = [200, 200, 200, 200, 304, 404, 500];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'curl/8.5.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "quoted" agent',
];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function clfTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export function urlName(i: number): string {
  return i % 10 === 3 ? `/products/${i}?ref=home&page=${i % 7}` : `/page/${i}.html`;
}

/** Yields the log's lines (without line feeds). */
export function* generateLines(options: Partial<GeneratorOptions> = {}): Generator<string> {
  const o = { ...DEFAULT_OPTIONS, ...options };
  const rand = prng(o.seed);
  // Zipf-like: index = floor(urls ^ u) - 1 puts most traffic on low indexes.
  const logUrls = Math.log(o.urls + 1);
  const step = o.lines > 1 ? (o.spanSeconds * 1000) / (o.lines - 1) : 0;
  const coverEvery = o.everyUrl ? Math.max(1, Math.floor(o.lines / o.urls)) : 0;
  for (let i = 0; i < o.lines; i++) {
    if (o.malformed > 0 && rand() < o.malformed) {
      yield i % 2 === 0 ? `garbage line ${i} with no request` : `10.0.0.1 - - [bad time "GET"`;
      continue;
    }
    const drawn = Math.min(o.urls - 1, Math.floor(Math.exp(rand() * logUrls)) - 1);
    const next = coverEvery > 0 && i % coverEvery === 0 ? i / coverEvery : o.urls;
    const url = urlName(next < o.urls ? next : drawn);
    const d = o.distinct;
    const client = d?.dimension === 'client' ? i % d.count : Math.floor(rand() * o.clients);
    const host = `10.${(client >> 16) & 255}.${(client >> 8) & 255}.${client & 255}`;
    const method = METHODS[Math.floor(rand() * METHODS.length)];
    const status = STATUSES[Math.floor(rand() * STATUSES.length)];
    const size = status === 304 ? '-' : String(200 + Math.floor(rand() * 50000));
    const time = clfTime(o.startMs + Math.floor(i * step));
    const user = d?.dimension === 'user' ? `user${i % d.count}` : '-';
    const common = `${host} - ${user} [${time}] "${method} ${url} HTTP/1.1" ${status} ${size}`;
    if (o.format === 'common') yield common;
    else {
      const drawn = AGENTS[Math.floor(rand() * AGENTS.length)]!.replace(/"/g, '\\"');
      const agent = d?.dimension === 'agent' ? `bench-agent/${i % d.count} (X11; Linux x86_64)` : drawn;
      const referrer = d?.dimension === 'referrer' ? `https://ref.example/${i % d.count}` : 'https://example.com/';
      yield `${common} "${referrer}" "${agent}"`;
    }
  }
}

/** Writes the log to `file`, streaming, and resolves with the bytes written. */
export async function writeLog(file: string, options: Partial<GeneratorOptions> = {}): Promise<number> {
  const out = createWriteStream(file);
  let bytes = 0;
  let chunk: string[] = [];
  const flush = async () => {
    const text = chunk.join('\n') + '\n';
    chunk = [];
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  for (const line of generateLines(options)) {
    chunk.push(line);
    if (chunk.length === 10_000) await flush();
  }
  if (chunk.length > 0) await flush();
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return bytes;
}
