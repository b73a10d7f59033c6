/**
 * The `lf.pos` header on the first event of every batch a spooling-directory source puts:
 * `<fileKey>:<offset of the line after the batch>:<events in the batch>`. It makes a batch
 * replayable (the offset) and recognisable when it arrives twice; only the first event
 * carries it, to keep the others small. File keys are `<sourceId>-<hash>`.
 *
 * Written by the source; read by the file channel (positions it holds durably), the Avro
 * decoder (found by its name's bytes) and the job (exactly-once counting).
 */
export const POSITION_HEADER = 'lf.pos';

export interface Position {
  readonly key: string;
  readonly offset: number;
  /** Events in the batch (1 for the older two-part form `<fileKey>:<offset>`). */
  readonly events: number;
}

export function encodePosition(key: string, offset: number, events: number): string {
  return `${key}:${offset}:${events}`;
}

/** Parses a value (the key may hold colons: the numbers are taken from the end). */
export function parsePosition(value: string): Position {
  const last = value.lastIndexOf(':');
  const prev = value.lastIndexOf(':', last - 1);
  if (prev < 0) return { key: value.slice(0, last), offset: Number(value.slice(last + 1)), events: 1 };
  return { key: value.slice(0, prev), offset: Number(value.slice(prev + 1, last)), events: Number(value.slice(last + 1)) || 1 };
}

/** The id of the source that wrote a file key. */
export function sourceIdOfKey(key: string): string {
  return key.slice(0, key.indexOf('-'));
}
