import type { Channel, EventBatch } from '../channel/index.js';
import { encodePosition, POSITION_HEADER } from '../channel/position-header.js';
import type { Logger } from '../log.js';
import type { Chunk } from './chunk-pool.js';
import { latin1ToUtf8, repairUtf8 } from './charset-repair.js';
import type { FileStatus } from './file-registry.js';
import type { LineScanner } from './line-scanner.js';
import type { OpenFile } from './open-file.js';
import type { SpoolDirSourceConfig } from './spooldir-config.js';
import { isUtf8 } from './utf8.js';

export type BatcherConfig = Pick<
  SpoolDirSourceConfig,
  'batchSize' | 'inputCharset' | 'decodeErrorPolicy' | 'interceptors' | 'fileHeader' | 'fileHeaderKey' | 'basenameHeader' | 'basenameHeaderKey'
>;

/**
 * Turns a scanned chunk into channel events: batches of `batchSize` lines whose bodies are
 * ranges of the chunk (no copy per line), which share one headers object (file, basename,
 * interceptors), and whose first event carries `lf.pos`: the file key and the offset a
 * restart resumes from once the batch is counted.
 */
export class EventBatcher {
  readonly #config: BatcherConfig;
  readonly #channel: Channel;
  readonly #log: Logger;
  #eventsRead = 0;

  constructor(config: BatcherConfig, channel: Channel, log: Logger) {
    this.#config = config;
    this.#channel = channel;
    this.#log = log;
  }

  /** Events put into the channel so far. */
  get eventsRead(): number {
    return this.#eventsRead;
  }

  /** The headers every event of the file has (before interceptors). */
  baseHeaders(status: FileStatus): Record<string, string> {
    const c = this.#config;
    const headers: Record<string, string> = {};
    if (c.fileHeader) headers[c.fileHeaderKey] = status.path;
    if (c.basenameHeader) headers[c.basenameHeaderKey] = status.name;
    return headers;
  }

  /**
   * Puts a chunk's lines into the channel in batches of `batchSize`, sharing its buffer;
   * returns how many were put (fewer when a line is not UTF-8 and the policy is FAIL).
   * `dataOffset` is the file offset of `chunk.buf[0]`.
   */
  async emit(
    chunk: Chunk,
    dataOffset: number,
    scanner: LineScanner,
    baseHeaders: Record<string, string>,
    file: OpenFile,
    onDelivered: () => void,
  ): Promise<number> {
    let data: Buffer = chunk.buf;
    let { starts, ends, count } = scanner;
    const total = count;
    // Offsets (`next`) are taken from the scanner's ranges of the file's own bytes, before
    // the lines are re-encoded.
    const fileStarts = starts;
    if (this.#config.inputCharset === 'latin1') ({ data, starts, ends } = latin1ToUtf8(data, starts, ends, count));
    // One check of the whole chunk (~50 us a megabyte); lines are looked at one by one only
    // when it fails.
    else if (count > 0 && !isUtf8(data.subarray(starts[0]!, ends[count - 1]!))) {
      ({ data, starts, ends, count } = repairUtf8(this.#config.decodeErrorPolicy, data, dataOffset, starts, ends, count, file, this.#log));
    }
    // Re-encoded lines live in a buffer of their own; the chunk is reused only when its
    // batches hold its bytes.
    const shared = data.buffer === chunk.buf.buffer;
    const size = Math.min(this.#config.batchSize, this.#channel.transactionCapacity);
    for (let i = 0; i < count; i += size) {
      const n = Math.min(size, count - i);
      // Where the line after this batch starts: the offset a restart resumes from.
      const next = dataOffset + (i + n < total ? fileStarts[i + n]! : scanner.rest);
      const batch: EventBatch = {
        data,
        starts: starts.subarray(i, i + n),
        ends: ends.subarray(i, i + n),
        count: n,
        headers: this.#intercept(baseHeaders),
        firstHeaders: { [POSITION_HEADER]: encodePosition(file.key, next, n) },
        onDelivered,
        release: shared ? chunk.release : undefined,
      };
      if (shared) chunk.retain();
      file.outstanding++;
      this.#eventsRead += n;
      await this.#channel.put(batch);
    }
    return count;
  }

  /** Flume's interceptors, applied once per batch since they give every event the same value. */
  #intercept(base: Record<string, string>): Record<string, string> {
    if (this.#config.interceptors.length === 0) return base;
    const headers: Record<string, string> = { ...base };
    const now = String(Date.now());
    for (const i of this.#config.interceptors) {
      if (i.preserveExisting && headers[i.headerName] !== undefined) continue;
      headers[i.headerName] = i.type === 'timestamp' ? now : i.value!;
    }
    return headers;
  }
}
