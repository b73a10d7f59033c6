import type { Logger } from '../log.js';
import type { OpenFile } from './open-file.js';
import { dropInvalidUtf8, isUtf8, replaceInvalidUtf8, type DecodeErrorPolicy } from './utf8.js';
import { invalidUtf8, invalidUtf8Stop } from '../telemetry/index.js';

/** A chunk's lines as ranges of `data`: the batcher's input, before or after repair. */
export interface LineRanges {
  readonly data: Buffer;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly count: number;
}

/**
 * Events are UTF-8 on the wire: ISO-8859-1 lines are re-encoded into a buffer of their own.
 * A chunk that is all ASCII (most logs) is returned as it is, at the cost of one scan.
 */
export function latin1ToUtf8(data: Buffer, starts: Int32Array, ends: Int32Array, count: number): LineRanges {
  const last = count > 0 ? ends[count - 1]! : 0;
  let ascii = true;
  for (let i = 0; i < last && ascii; i++) ascii = data[i]! < 0x80;
  if (ascii) return { data, starts, ends, count };
  const parts: Buffer[] = [];
  const newStarts = new Int32Array(count);
  const newEnds = new Int32Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const part = Buffer.from(data.toString('latin1', starts[i], ends[i]), 'utf8');
    parts.push(part);
    newStarts[i] = at;
    at += part.length;
    newEnds[i] = at;
  }
  return { data: Buffer.concat(parts, at), starts: newStarts, ends: newEnds, count };
}

/**
 * Flume's decodeErrorPolicy for a chunk whose bytes are not all UTF-8 (the caller checked
 * the whole chunk at once; only then are lines looked at one by one). FAIL keeps the lines
 * before the first bad one and ends the file there (`file.problem`: it is renamed with
 * failedSuffix once they are counted); REPLACE puts U+FFFD for each bad sequence, IGNORE
 * drops the bad bytes. `dataOffset` is the file offset of `data[0]`, for the messages.
 */
export function repairUtf8(
  policy: DecodeErrorPolicy,
  data: Buffer,
  dataOffset: number,
  starts: Int32Array,
  ends: Int32Array,
  count: number,
  file: OpenFile,
  log: Logger,
): LineRanges {
  let firstBad = -1;
  for (let i = 0; i < count && firstBad < 0; i++) if (!isUtf8(data.subarray(starts[i]!, ends[i]!))) firstBad = i;
  if (firstBad < 0) return { data, starts, ends, count }; // the bad bytes were in a cut line's skipped part
  const status = file.status;
  const line = status.lines + firstBad + 1;
  const offset = dataOffset + starts[firstBad]!;
  if (policy === 'FAIL') {
    file.size = offset;
    file.problem = `line ${line} (byte ${offset}) is not valid UTF-8 (decodeErrorPolicy = FAIL); the ${line - 1} lines before it were read`;
    status.reason = file.problem;
    invalidUtf8Stop.emit(log, { file: status.path, line, offset });
    return { data, starts, ends, count: firstBad };
  }
  if (file.decodeErrors === 0) invalidUtf8.emit(log, { file: status.path, line, offset, decodeErrorPolicy: policy });
  const fix = policy === 'REPLACE' ? replaceInvalidUtf8 : dropInvalidUtf8;
  const parts: Buffer[] = [];
  const newStarts = new Int32Array(count);
  const newEnds = new Int32Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    let part = data.subarray(starts[i]!, ends[i]!);
    if (i >= firstBad && !isUtf8(part)) {
      part = fix(data, starts[i]!, ends[i]!);
      file.decodeErrors++;
    }
    parts.push(part);
    newStarts[i] = at;
    at += part.length;
    newEnds[i] = at;
  }
  status.reason = `${file.decodeErrors} lines with invalid UTF-8 (decodeErrorPolicy = ${policy})`;
  return { data: Buffer.concat(parts, at), starts: newStarts, ends: newEnds, count };
}
