import { LogflowError } from '../errors.js';
import type { UrlCount } from '../counts/top-k.js';
import { ClientTable, readDims, SECTIONS_MIN, writeDims, writeSections, type SectionPart } from './cells-wire.js';
import { ByteReader, ByteWriter, WireError } from './wire-bytes.js';

/**
 * What a merge worker publishes for its shard (LOGFLOW_RESULTS, `<subject>.<shard>.d`), in
 * the order it closes batches, and what query nodes combine:
 *
 * - `row`: a closed batch's counts of the shard's (dimension, key) pairs: per dimension its
 *   keys with their cells (status, lines, bytes, distinct clients where visitors are
 *   counted: the union of the partials'), as partials carry them (cells-wire.ts);
 *   a query node adds the shards' rows of a batch into one (its history row and its window);
 * - `window`: the shard's window at a slide (total, distinct keys of the default
 *   dimension, counters) and its top keys with their lines and bytes, or `same` (unchanged
 *   since its last top), or none (a slide passed in a catch-up);
 * - `progress`: batches below `closedThrough` are closed (no row: nothing was counted);
 * - `late`: lines of a partial (counts-stream sequence `seq`) for a batch the shard had
 *   closed already: a row for the history only, added to the batch's (history rows add
 *   up), as a single process keeps a line older than its window (`historyOnlyEvents`).
 *
 * Every message says how far the shard has closed, so a query node knows when every shard
 * is past a batch. Rows and tops are cut below max_payload into parts (`part`, `last`).
 *
 *   u8 version (3) | u8 kind (2 row, 3 window, 4 progress, 5 late) | u8 flags (bit 0: last part)
 *   u32 LE: where a row's client table starts (0: none; after its sections, cells-wire.ts)
 *   varints: shard, shards, closedThrough, part, then the kind's fields (a late row's are a
 *   row's with `seq` after the slot; a row ends with its dimensions' names and sections).
 *
 * Versions 1 (URL rows in the store's version-1 blob, tops without bytes) and 2 (rows
 * without visits) are refused.
 */
export const RESULTS_VERSION = 3;
const KIND_ROW = 2;
const KIND_WINDOW = 3;
const KIND_PROGRESS = 4;
const KIND_LATE = 5;
const FLAG_LAST = 1;

/** The shard's cumulative counters, as of the message. */
export interface ShardCounters {
  readonly eventsIn: number;
  readonly eventsCounted: number;
  readonly parseErrors: number;
  /** Lines behind the shard's watermark: in late rows (the history) only, not in a window. */
  readonly late: number;
  readonly duplicates: number;
}

interface Common {
  readonly shard: number;
  readonly shards: number;
  /** Batches (merge slots) below this one are closed in the shard. */
  readonly closedThrough: number;
  readonly part: number;
  readonly last: boolean;
}

export interface RowMessage extends Common {
  readonly kind: 'row';
  readonly slot: number;
  readonly batchMs: number;
  /** Lines and parse errors of the batch in this shard (in part 0; 0 in the others). */
  readonly events: number;
  readonly parseErrors: number;
  /** The dimensions its sections name by index. */
  readonly dims: readonly string[];
  /** Its sections (cells-wire.ts): a range of the message. */
  readonly sections: Buffer;
  /** The client table its sections' visits name (a range of the message), or none. */
  readonly clients: Buffer | undefined;
}

export interface LateRowMessage extends Omit<RowMessage, 'kind'> {
  readonly kind: 'late';
  /** The counts-stream sequence of the partial the lines came in: late rows come in its order (a repeat is skipped). */
  readonly seq: number;
}

export type TopState = 'none' | 'same' | 'full';
const TOP_STATES: readonly TopState[] = ['none', 'same', 'full'];

export interface WindowMessage extends Common {
  readonly kind: 'window';
  readonly endMs: number;
  readonly windowMs: number;
  readonly total: number;
  readonly distinct: number;
  readonly counters: ShardCounters;
  readonly topState: TopState;
  /** `full`: this part's top keys (the parts together, in order, are the shard's top). */
  readonly top: TopCount[];
}

/** A key of a shard's top, with its lines and bytes. */
export interface TopCount extends UrlCount {
  readonly bytes: number;
}

export interface ProgressMessage extends Common {
  readonly kind: 'progress';
  readonly counters: ShardCounters;
}

export type ResultsMessage = RowMessage | LateRowMessage | WindowMessage | ProgressMessage;

type Head = Pick<Common, 'shard' | 'shards' | 'closedThrough'>;

function begin(w: ByteWriter, kind: number, head: Head, part: number): void {
  w.reset();
  w.u8(RESULTS_VERSION);
  w.u8(kind);
  w.u8(0);
  w.u32le(0);
  w.varint(head.shard);
  w.varint(head.shards);
  w.varint(head.closedThrough);
  w.varint(part);
}

function counters(w: ByteWriter, c: ShardCounters): void {
  for (const v of [c.eventsIn, c.eventsCounted, c.parseErrors, c.late, c.duplicates]) w.varint(v);
}

/**
 * A closed batch's row, cut into parts of at most `maxBytes`: `parts` (the batch's cells by
 * dimension, `dims` their names) in that order (the same batch gives the same parts). With
 * `lateSeq`, a late row (the history only) of the partial of that sequence.
 */
export function encodeRow(
  head: Head & { slot: number; batchMs: number; events: number; parseErrors: number; lateSeq?: number },
  dims: readonly string[],
  parts: readonly SectionPart[],
  maxBytes: number,
): Buffer[] {
  const out: Buffer[] = [];
  const w = new ByteWriter(4096);
  const message = { empty: true, clients: new ClientTable() };
  const finish = () => {
    if (message.clients.size > 0) {
      w.patchU32le(3, w.length);
      message.clients.writeTo(w);
    }
  };
  const start = () => {
    message.clients.reset();
    begin(w, head.lateSeq === undefined ? KIND_ROW : KIND_LATE, head, out.length);
    w.svarint(head.slot);
    if (head.lateSeq !== undefined) w.varint(head.lateSeq);
    w.varint(head.batchMs);
    w.varint(out.length === 0 ? head.events : 0);
    w.varint(out.length === 0 ? head.parseErrors : 0);
    writeDims(w, dims);
    message.empty = true;
    if (w.length + SECTIONS_MIN > maxBytes) throw new LogflowError('LF_MESSAGE_TOO_LARGE', `a row's header does not fit in ${maxBytes} bytes`);
  };
  start();
  writeSections(w, parts, maxBytes, () => {
    finish();
    out.push(w.toBuffer());
    start();
  }, message);
  finish();
  w.patchU8(2, FLAG_LAST);
  out.push(w.toBuffer());
  return out;
}

/** The shard's window at a slide; a `full` top is cut into parts of at most `maxBytes`. */
export function encodeWindow(
  head: Head & { endMs: number; windowMs: number; total: number; distinct: number; counters: ShardCounters; topState: TopState; top: readonly TopCount[] },
  maxBytes: number,
): Buffer[] {
  const out: Buffer[] = [];
  const w = new ByteWriter(256);
  const body = new ByteWriter(4096);
  let inPart = 0;
  const flush = (last: boolean) => {
    begin(w, KIND_WINDOW, head, out.length);
    for (const v of [head.endMs, head.windowMs, head.total, head.distinct]) w.varint(v);
    counters(w, head.counters);
    w.u8(TOP_STATES.indexOf(head.topState));
    w.varint(inPart);
    w.raw(body.toBuffer());
    if (last) w.patchU8(2, FLAG_LAST);
    out.push(w.toBuffer());
    body.reset();
    inPart = 0;
  };
  // A header is under 100 bytes: what is left of the limit is for the keys.
  const room = maxBytes - 128;
  for (const u of head.topState === 'full' ? head.top : []) {
    const bytes = Buffer.from(u.url, 'utf8');
    if (bytes.length + 24 > room) throw new LogflowError('LF_MESSAGE_TOO_LARGE', `a key of ${bytes.length} bytes does not fit in a ${maxBytes}-byte message`);
    if (body.length + bytes.length + 24 > room) flush(false);
    body.bytes(bytes);
    body.varint(u.count);
    body.varint(u.bytes);
    inPart++;
  }
  flush(true);
  return out;
}

export function encodeProgress(head: Head & { counters: ShardCounters }): Buffer {
  const w = new ByteWriter(64);
  begin(w, KIND_PROGRESS, head, 0);
  counters(w, head.counters);
  w.patchU8(2, FLAG_LAST);
  return w.toBuffer();
}

export function decodeResults(data: Uint8Array): ResultsMessage {
  const r = new ByteReader(data);
  const version = r.u8();
  if (version !== RESULTS_VERSION) {
    const from = version === 1 ? 'URL counts alone, from a merge worker of a logflow before the dimensions' : version === 2 ? 'no visitors, from a merge worker of a logflow before the cluster carried them' : undefined;
    throw new WireError(
      from
        ? `a merge result of version ${version} (${from}): this query node reads version ${RESULTS_VERSION}; run the same logflow on every merge worker and query node`
        : `not a merge result of version ${RESULTS_VERSION} (version byte ${version})`,
    );
  }
  const kind = r.u8();
  const last = (r.u8() & FLAG_LAST) !== 0;
  const clientsAt = r.u32le();
  if (clientsAt > r.data.length) throw new WireError(`a client table at byte ${clientsAt} of ${r.data.length}`);
  // A row's sections end where its client table starts.
  const sectionsAndClients = () => {
    const at = r.position;
    const rest = r.rest();
    if (clientsAt === 0) return { sections: rest, clients: undefined };
    if (clientsAt < at) throw new WireError(`a client table at byte ${clientsAt}, before the sections at ${at}`);
    return { sections: rest.subarray(0, clientsAt - at), clients: r.data.subarray(clientsAt) };
  };
  const common = { shard: r.varint(), shards: r.varint(), closedThrough: r.varint(), part: r.varint(), last };
  if (common.shard >= common.shards) throw new WireError(`shard ${common.shard} of ${common.shards}`);
  const readCounters = (): ShardCounters => ({ eventsIn: r.varint(), eventsCounted: r.varint(), parseErrors: r.varint(), late: r.varint(), duplicates: r.varint() });
  switch (kind) {
    case KIND_ROW:
      return { kind: 'row', ...common, slot: r.svarint(), batchMs: r.varint(), events: r.varint(), parseErrors: r.varint(), dims: readDims(r), ...sectionsAndClients() };
    case KIND_LATE:
      return { kind: 'late', ...common, slot: r.svarint(), seq: r.varint(), batchMs: r.varint(), events: r.varint(), parseErrors: r.varint(), dims: readDims(r), ...sectionsAndClients() };
    case KIND_WINDOW: {
      const fields = { endMs: r.varint(), windowMs: r.varint(), total: r.varint(), distinct: r.varint(), counters: readCounters() };
      const topState = TOP_STATES[r.u8()];
      if (!topState) throw new WireError('unknown top state');
      const top: TopCount[] = [];
      for (let n = r.varint(); n > 0; n--) {
        r.bytes();
        top.push({ url: r.data.toString('utf8', r.start, r.end), count: r.varint(), bytes: r.varint() });
      }
      return { kind: 'window', ...common, ...fields, topState, top };
    }
    case KIND_PROGRESS:
      return { kind: 'progress', ...common, counters: readCounters() };
    default:
      throw new WireError(`unknown merge result kind ${kind}`);
  }
}
