import os from 'node:os';
import path from 'node:path';
import type { PropertyReader, ReadContext } from '../conf/index.js';

/** Flume's file channel: puts are written (and fdatasync'ed) before they are acknowledged. */
export interface FileChannelConfig {
  readonly name: string;
  readonly type: 'file';
  readonly capacity: number;
  readonly transactionCapacity: number;
  readonly checkpointDir: string;
  readonly dataDir: string;
  /** A data file is closed and a new one started beyond this many bytes. */
  readonly maxFileSize: number;
  /** Flume's `keep-alive`: how long an avro source's put waits for room before FAILED. */
  readonly keepAliveMs?: number;
}

/** Flume's defaults; the directories default to Flume's too (under the home directory). */
export function read(r: PropertyReader, p: string, { name, resolve }: ReadContext): FileChannelConfig {
  // Encryption at rest must not be silently dropped: refuse it until it is implemented.
  const encryption = r.keysUnder(p + '.encryption')[0];
  if (encryption !== undefined) throw r.at(r.raw(`${p}.encryption.${encryption}`)!, 'file channel encryption is not supported');
  const capacity = r.int(p + '.capacity', 1_000_000, 1, 100_000_000);
  const transactionCapacity = r.int(p + '.transactionCapacity', 10_000, 1, capacity);
  const home = path.join(os.homedir(), '.flume', 'file-channel');
  const dataDirs = r.has(p + '.dataDirs') ? r.string(p + '.dataDirs').split(',').map((d) => d.trim()).filter(Boolean) : [path.join(home, 'data')];
  if (dataDirs.length !== 1) throw r.at(r.raw(p + '.dataDirs')!, 'one data directory is supported (Flume spreads over several; a RAID or one fast disk does it here)');
  const checkpointDir = resolve(r.string(p + '.checkpointDir', path.join(home, 'checkpoint')));
  const dataDir = resolve(dataDirs[0]!);
  if (checkpointDir === dataDir) throw r.at(r.raw(p + '.dataDirs')!, 'must differ from checkpointDir');
  return Object.freeze({
    name,
    type: 'file',
    capacity,
    transactionCapacity,
    checkpointDir,
    dataDir,
    maxFileSize: r.int(p + '.maxFileSize', 2_146_435_071, 64 * 1024, 2_146_435_071),
    keepAliveMs: r.seconds(p + '.keep-alive', 3, 0),
  });
}
