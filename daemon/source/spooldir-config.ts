import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { PropertyReader, ReadContext } from '../conf/index.js';
import { readInterceptors, readSourceChannel, readSourceId, type InterceptorConfig } from './source-config.js';
import { DECODE_ERROR_POLICIES, type DecodeErrorPolicy } from './utf8.js';

export const CONSUME_ORDERS = ['oldest', 'youngest', 'random'] as const;
export const DELETE_POLICIES = ['never', 'immediate'] as const;
export const FILE_IDENTITIES = ['content', 'name'] as const;

export interface SpoolDirSourceConfig {
  readonly name: string;
  readonly type: 'spooldir';
  readonly channel: string;
  readonly spoolDir: string;
  readonly fileSuffix: string;
  /** Appended to a file that could not be read (quarantine). */
  readonly failedSuffix: string;
  readonly deletePolicy: (typeof DELETE_POLICIES)[number];
  readonly fileHeader: boolean;
  readonly fileHeaderKey: string;
  readonly basenameHeader: boolean;
  readonly basenameHeaderKey: string;
  readonly includePattern: RegExp;
  readonly ignorePattern: RegExp;
  readonly batchSize: number;
  readonly consumeOrder: (typeof CONSUME_ORDERS)[number];
  /** Milliseconds between two looks at a new file's size before it is trusted as complete. */
  readonly pollDelay: number;
  readonly inputCharset: 'utf-8' | 'latin1';
  readonly maxLineLength: number;
  /** What a line that is not valid UTF-8 does: FAIL ends the file there, REPLACE puts U+FFFD, IGNORE drops the bytes. */
  readonly decodeErrorPolicy: DecodeErrorPolicy;
  readonly interceptors: readonly InterceptorConfig[];
  /** Flume's `trackerDir`: where the source keeps its records of finished files (`files.db`). */
  readonly trackerDir: string;
  /** `content`: a file whose content was counted before is a duplicate; `name`: only names matter. */
  readonly fileIdentity: (typeof FILE_IDENTITIES)[number];
  /** How long the records of finished files (and their fingerprints) are kept. */
  readonly retentionMs: number;
  /**
   * The prefix of this source's file keys (letters, digits, _), and an edge's subject token
   * on a JetStream cluster; by default made once and kept in `trackerDir` (file-key.ts).
   */
  readonly sourceId?: string;
  /** `true`: a symbolic link in the spool is read when its target is inside `symlinkRoots`; `false`: refused. */
  readonly followSymlinks: boolean;
  /** Real paths of the directories links may point into (with `followSymlinks`). */
  readonly symlinkRoots: readonly string[];
}

/** Reads `<agent>.sources.<name>.*` of a spooling-directory source. */
export function read(r: PropertyReader, p: string, { name, resolve, knownChannel }: ReadContext): SpoolDirSourceConfig {
  const channel = readSourceChannel(r, p, knownChannel);
  if (r.has(p + '.deserializer')) r.oneOf(p + '.deserializer', ['LINE'] as const);
  const maxLineLength = r.has(p + '.deserializer.maxLineLength')
    ? r.int(p + '.deserializer.maxLineLength', 2048, 1, 64 * 1024 * 1024)
    : r.int(p + '.maxLineLength', 2048, 1, 64 * 1024 * 1024);
  const charset = r.oneOf(p + '.inputCharset', ['UTF-8', 'ISO-8859-1', 'US-ASCII'] as const, 'UTF-8');
  const spoolDir = resolve(r.string(p + '.spoolDir'));
  return Object.freeze({
    name,
    type: 'spooldir',
    channel,
    spoolDir,
    fileSuffix: r.string(p + '.fileSuffix', '.COMPLETED'),
    failedSuffix: r.string(p + '.failedSuffix', '.FAILED'),
    deletePolicy: r.oneOf(p + '.deletePolicy', DELETE_POLICIES, 'never'),
    fileHeader: r.bool(p + '.fileHeader', false),
    fileHeaderKey: r.string(p + '.fileHeaderKey', 'file'),
    basenameHeader: r.bool(p + '.basenameHeader', false),
    basenameHeaderKey: r.string(p + '.basenameHeaderKey', 'basename'),
    includePattern: r.regex(p + '.includePattern', '^.*$'),
    ignorePattern: r.regex(p + '.ignorePattern', '^$'),
    batchSize: r.int(p + '.batchSize', 100, 1, 1_000_000),
    consumeOrder: r.oneOf(p + '.consumeOrder', CONSUME_ORDERS, 'oldest'),
    pollDelay: r.int(p + '.pollDelay', 500, 10, 3_600_000),
    inputCharset: charset === 'UTF-8' ? 'utf-8' : 'latin1',
    maxLineLength,
    decodeErrorPolicy: r.oneOf(p + '.decodeErrorPolicy', DECODE_ERROR_POLICIES, 'FAIL'),
    interceptors: readInterceptors(r, p),
    // Flume's default: a hidden directory in the spool (relative paths are the spool's).
    trackerDir: path.resolve(spoolDir, r.string(p + '.trackerDir', '.flumespool')),
    fileIdentity: r.oneOf(p + '.fileIdentity', FILE_IDENTITIES, 'content'),
    retentionMs: r.seconds(p + '.retention', 7 * 24 * 3600, 60_000),
    ...readSourceId(r, p + '.sourceId'),
    ...readSymlinkPolicy(r, p, resolve),
  });
}

/**
 * `followSymlinks` (default false: a link in the spool is quarantined, never read) and
 * `symlinkRoots`, the directories its targets must resolve into: required with
 * `followSymlinks = true`, each an existing directory, kept as real paths.
 */
function readSymlinkPolicy(r: PropertyReader, p: string, resolve: (p: string) => string): Pick<SpoolDirSourceConfig, 'followSymlinks' | 'symlinkRoots'> {
  const followSymlinks = r.bool(p + '.followSymlinks', false);
  const prop = r.raw(p + '.symlinkRoots');
  if (!followSymlinks) return { followSymlinks, symlinkRoots: [] };
  if (!prop) throw r.missing(p + '.symlinkRoots');
  const roots = prop.value.split(/[\s,]+/).filter(Boolean).map((dir) => {
    let real: string;
    try {
      real = realpathSync(resolve(dir));
    } catch (err) {
      throw r.at(prop, `${dir} must be an existing directory (${(err as NodeJS.ErrnoException).code})`);
    }
    if (!statSync(real).isDirectory()) throw r.at(prop, `${dir} must be an existing directory (it is not a directory)`);
    return real;
  });
  if (roots.length === 0) throw r.bad(prop, 'directories, separated by commas');
  if (roots.some((d) => d === path.parse(d).root)) throw r.at(prop, 'must not be / (every file would be inside it)');
  return { followSymlinks, symlinkRoots: Object.freeze(roots) };
}
