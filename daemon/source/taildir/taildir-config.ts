import os from 'node:os';
import path from 'node:path';
import type { PropertyReader, ReadContext } from '../../conf/index.js';
import { readInterceptors, readSourceChannel, readSourceId, type InterceptorConfig } from '../source-config.js';

/** The decode error policies a followed file can have: FAIL would stop following it for good. */
export const TAIL_DECODE_ERROR_POLICIES = ['REPLACE', 'IGNORE'] as const;

/** One of Flume's file groups: a directory, and a regular expression for the names in it. */
export interface FileGroupConfig {
  readonly name: string;
  /** As configured (resolved): the directory and the name's regular expression. */
  readonly spec: string;
  readonly dir: string;
  /** Matches a whole file name (Flume's `regex:` path matcher). */
  readonly pattern: RegExp;
  /** `headers.<group>.<key> = value`: every event of the group's files carries them. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface TaildirSourceConfig {
  readonly name: string;
  readonly type: 'TAILDIR';
  readonly channel: string;
  readonly groups: readonly FileGroupConfig[];
  /** Flume's JSON `[{"inode":…,"pos":…,"file":…}]`, written atomically every writePosInterval. */
  readonly positionFile: string;
  /** The prefix of this source's file keys and its edge's subject token (absent: made once, kept beside the position file). */
  readonly sourceId?: string;
  readonly batchSize: number;
  /** Batches read from one file before the others get a turn. */
  readonly maxBatchCount: number;
  /** A file that has not grown for this long is closed (reopened when it grows). */
  readonly idleTimeoutMs: number;
  readonly writePosIntervalMs: number;
  /** At the first start (no position file yet), files found are followed from their end. */
  readonly skipToEnd: boolean;
  /** Lists a directory again only when its mtime changed (else at every poll). */
  readonly cachePatternMatching: boolean;
  readonly fileHeader: boolean;
  readonly fileHeaderKey: string;
  readonly interceptors: readonly InterceptorConfig[];
  readonly maxLineLength: number;
  readonly decodeErrorPolicy: (typeof TAIL_DECODE_ERROR_POLICIES)[number];
  /** How often directories are listed and open files looked at, besides the watch. */
  readonly pollDelayMs: number;
  /** false: no chokidar watch, polling only (network file systems, where no change events come). */
  readonly watch: boolean;
}

/** Reads `<agent>.sources.<name>.*` of a TAILDIR source (Flume's keys, and logflow's few). */
export function read(r: PropertyReader, p: string, { name, resolve, knownChannel }: ReadContext): TaildirSourceConfig {
  const channel = readSourceChannel(r, p, knownChannel);
  const groups = readGroups(r, p, resolve);
  const positionFile = resolve(r.string(p + '.positionFile', path.join(os.homedir(), '.flume', 'taildir_position.json')));
  if (r.has(p + '.decodeErrorPolicy')) {
    const prop = r.raw(p + '.decodeErrorPolicy')!;
    if (prop.value.toUpperCase() === 'FAIL') throw r.at(prop, 'FAIL would stop following the file at its first invalid byte; use REPLACE (the default) or IGNORE');
  }
  return Object.freeze({
    name,
    type: 'TAILDIR',
    channel,
    groups,
    positionFile,
    ...readSourceId(r, p + '.sourceId'),
    batchSize: r.int(p + '.batchSize', 100, 1, 1_000_000),
    maxBatchCount: r.int(p + '.maxBatchCount', Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER),
    idleTimeoutMs: r.int(p + '.idleTimeout', 120_000, 100, 365 * 24 * 3_600_000),
    writePosIntervalMs: r.int(p + '.writePosInterval', 3_000, 100, 3_600_000),
    skipToEnd: r.bool(p + '.skipToEnd', false),
    cachePatternMatching: r.bool(p + '.cachePatternMatching', true),
    fileHeader: r.bool(p + '.fileHeader', false),
    fileHeaderKey: r.string(p + '.fileHeaderKey', 'file'),
    interceptors: readInterceptors(r, p),
    maxLineLength: r.int(p + '.maxLineLength', 2048, 1, 64 * 1024 * 1024),
    decodeErrorPolicy: r.oneOf(p + '.decodeErrorPolicy', TAIL_DECODE_ERROR_POLICIES, 'REPLACE'),
    pollDelayMs: r.int(p + '.pollDelay', 1_000, 50, 3_600_000),
    watch: r.bool(p + '.watch', true),
  });
}

/**
 * `filegroups = g1 g2` and `filegroups.g1 = /var/log/nginx/access\.log.*`: the directory is
 * taken as it is, the last part is a regular expression for whole file names (as Flume's).
 */
function readGroups(r: PropertyReader, p: string, resolve: (p: string) => string): FileGroupConfig[] {
  const names = r.list(p + '.filegroups');
  if (names.length === 0) throw r.missing(p + '.filegroups');
  const headers = new Map<string, Record<string, string>>(names.map((g) => [g, {}]));
  for (const sub of r.keysUnder(p + '.headers')) {
    const key = `${p}.headers.${sub}`;
    const dot = sub.indexOf('.');
    const group = dot > 0 ? headers.get(sub.slice(0, dot)) : undefined;
    if (!group) throw r.at(r.raw(key)!, `is not headers.<group>.<header> of a group listed in ${p}.filegroups (${names.join(', ')})`);
    group[sub.slice(dot + 1)] = r.string(key);
  }
  return names.map((g) => {
    const key = `${p}.filegroups.${g}`;
    const value = r.string(key);
    const prop = r.raw(key)!;
    const full = resolve(value);
    const base = path.basename(full);
    if (value.endsWith('/') || base === '') throw r.at(prop, 'must end with a regular expression for the file names, e.g. /var/log/nginx/access\\.log.*');
    let pattern: RegExp;
    try {
      pattern = new RegExp(`^(?:${base})$`);
    } catch (err) {
      throw r.at(prop, `the file name part ${JSON.stringify(base)} is not a valid regular expression (${(err as Error).message})`);
    }
    return Object.freeze({ name: g, spec: full, dir: path.dirname(full), pattern, headers: Object.freeze(headers.get(g)!) });
  });
}
