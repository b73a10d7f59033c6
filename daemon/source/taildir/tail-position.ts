import type { SourcePositions } from '../source-positions.js';
import type { TailFile } from './tail-file.js';

/**
 * A followed file's position in `lf.pos` headers and checkpoints: `epoch × 2^40 + offset`.
 *
 * The job keeps one position per file key and takes a batch at or below it as counted
 * before, so a key's positions must only grow. A file truncated in place (`copytruncate`)
 * whose new first line is the same as before (a log that starts with a fixed header) keeps
 * its key, and starts over at offset 0: it starts a new epoch, whose positions are all above
 * the last one's. The epoch also tells a restarted source that the committed offset belongs
 * to content that is gone. A file of under 1 TiB per epoch, 8,192 epochs: positions stay
 * exact in a double (2^53).
 */
export const EPOCH_BYTES = 2 ** 40;
export const MAX_EPOCH = 2 ** 13 - 1;

export function positionOf(epoch: number, offset: number): number {
  return epoch * EPOCH_BYTES + offset;
}

export function epochOf(position: number): number {
  return Math.floor(position / EPOCH_BYTES);
}

export function offsetOf(position: number): number {
  return position % EPOCH_BYTES;
}

/**
 * The bytes of a file's current epoch that are durably counted: the committed position
 * when it is of this epoch, else where following began in it. Without anyone counting
 * (a memory channel to another agent), the lines put into the channel, as Flume's.
 */
export function committedOffsetOf(f: TailFile, positions: SourcePositions | undefined): number {
  if (!positions) return f.readPos;
  const c = positions.committed(f.key!);
  if (c !== undefined && epochOf(c) === f.epoch) return offsetOf(c);
  return f.startPos;
}
