import { LogflowError } from '../errors.js';
import { CellsCursor, ClientTable, readDims, SECTIONS_MIN, writeDims, writeSections, type SectionPart } from './cells-wire.js';
import { ByteReader, ByteWriter, WireError } from './wire-bytes.js';

/**
 * A partial count on the wire (LOGFLOW_COUNTS): what a counter counted of one partition's
 * events `(after, to]`, the part of it whose (dimension, key) pairs hash to one merge shard,
 * cut below the server's max_payload. Binary (varints, length-prefixed keys):
 *
 *   u8 version (3) | u8 kind (1: partial) | u8 flags (bit 0: last part)
 *   u32 LE: where the client table starts (0: none; after the slots)
 *   varints: partition, after, to, shard, shards, part, batchMs, atMs, wmMs,
 *            maxEventMs + 1 (0: none), rangeEvents, unplacedErrors
 *   sources: varint n, then per source its id (bytes) and its newest line time + 1
 *   dimensions: varint n, then each name (bytes); the first is the one lines are counted by
 *   slots: u8 1, then svarint slot, varint parseErrors, then the slot's sections
 *          (cells-wire.ts: per dimension, its keys with their cells: status, lines, bytes,
 *          and the cell's distinct clients where the dimension counts visitors);
 *          ... u8 0 ends the slots.
 *   client table: the hashes the slots' visits name by index (cells-wire.ts).
 *
 * Versions 1 (URL counts alone, up to the dimensions) and 2 (no visitors) are refused with a
 * message saying so: every counter and merge worker of a cluster runs the same logflow.
 */
export const PARTIAL_VERSION = 3;
export const KIND_PARTIAL = 1;

const FLAG_LAST = 1;
/** Room kept under the limit for a slot's header (written before its sections). */
const SLOT_HEAD_MAX = 24;

/** What every message of one partial says (each shard gets at least one). */
export interface PartialHead {
  readonly partition: number;
  /** This partial covers the partition's events with stream sequences in (after, to]. */
  readonly after: number;
  readonly to: number;
  /** The merge shard this message is for, of `shards`. */
  readonly shard: number;
  readonly shards: number;
  /** 0, 1, ...: the message's place among this shard's messages of the partial. */
  readonly part: number;
  readonly last: boolean;
  /** The counter's batch interval: slot k starts at k * batchMs. */
  readonly batchMs: number;
  /** The counter's clock when it cut the partial: the cluster's processing time (idleness). */
  readonly atMs: number;
  /** Processing time: the partition's events stored before this are all counted (this partial included). */
  readonly wmMs: number;
  /** Event time: the newest line time in the range; null if none. */
  readonly maxEventMs: number | null;
  /** Lines in the range, over all shards (> 0: the partition was active). */
  readonly rangeEvents: number;
  /** Event time: lines without a time (in shard 0's first message only). */
  readonly unplacedErrors: number;
  /**
   * Event time: each edge's newest line time in the range (an edge reads its files in
   * order, so its lines of a partition come in time order: the watermark is per edge and
   * partition; the partition's maximum let one edge's hour make another's late).
   */
  readonly sources: readonly (readonly [string, number])[];
  /** The dimensions counted (the counters' `dimensions`); sections name them by index. */
  readonly dims: readonly string[];
}

/** One slot's cells of one shard, as a counter built them. */
export interface SlotCells {
  readonly slot: number;
  readonly parseErrors: number;
  readonly parts: readonly SectionPart[];
}

export type PartialHeadFields = Omit<PartialHead, 'part' | 'last'>;

/**
 * Encodes one shard's share of a partial as messages of at most `maxBytes` each. The cut
 * depends on the content only, so counting the same events again gives the same messages
 * (a counter that takes a partition over republishes its predecessor's pending partial).
 * A shard with nothing still gets one message: it carries the partition's progress.
 */
export function encodePartial(head: PartialHeadFields, slots: readonly SlotCells[], maxBytes: number): Buffer[] {
  const out: Buffer[] = [];
  const w = new ByteWriter(Math.min(maxBytes, 64 * 1024));
  const message = { empty: true, clients: new ClientTable() };
  let part = 0;
  const begin = () => {
    w.reset();
    message.clients.reset();
    w.u8(PARTIAL_VERSION);
    w.u8(KIND_PARTIAL);
    w.u8(0);
    w.u32le(0);
    for (const v of [head.partition, head.after, head.to, head.shard, head.shards, part, head.batchMs, head.atMs, head.wmMs]) w.varint(v);
    w.varint(head.maxEventMs === null ? 0 : head.maxEventMs + 1);
    w.varint(head.rangeEvents);
    w.varint(part === 0 ? head.unplacedErrors : 0);
    w.varint(head.sources.length);
    for (const [source, ms] of head.sources) {
      w.bytes(Buffer.from(source, 'utf8'));
      w.varint(ms + 1);
    }
    writeDims(w, head.dims);
    message.empty = true;
    if (w.length + SLOT_HEAD_MAX + SECTIONS_MIN > maxBytes) throw new LogflowError('LF_MESSAGE_TOO_LARGE', `a partial's header does not fit in ${maxBytes} bytes`);
  };
  const end = (last: boolean) => {
    w.u8(0);
    if (message.clients.size > 0) {
      w.patchU32le(3, w.length);
      message.clients.writeTo(w);
    }
    if (last) w.patchU8(2, FLAG_LAST);
    out.push(w.toBuffer());
    part++;
  };
  begin();
  for (const s of slots) {
    if (w.length + message.clients.byteLength + SLOT_HEAD_MAX + SECTIONS_MIN > maxBytes) {
      end(false);
      begin();
    }
    w.u8(1);
    w.svarint(s.slot);
    w.varint(s.parseErrors);
    // A slot cut across messages: the next one starts it again (its parse errors counted once).
    writeSections(w, s.parts, maxBytes, () => {
      end(false);
      begin();
      w.u8(1);
      w.svarint(s.slot);
      w.varint(0);
    }, message);
  }
  end(true);
  return out;
}

/**
 * Reads a partial message without making an object or a string per key: `head` is read at
 * once; then `nextSlot()` walks the slots (`slot`, `parseErrors`) and `cells` each slot's
 * sections, keys and cells.
 */
export class PartialCursor {
  readonly head: PartialHead;
  readonly reader: ByteReader;
  readonly cells: CellsCursor;
  slot = 0;
  parseErrors = 0;

  constructor(data: Uint8Array) {
    const r = (this.reader = new ByteReader(data));
    const version = r.u8();
    if (version !== PARTIAL_VERSION) {
      const from = version === 1 ? 'URL counts alone, from a counter of a logflow before the dimensions' : version === 2 ? 'no visitors, from a counter of a logflow before the cluster carried them' : undefined;
      throw new WireError(
        from
          ? `a partial of version ${version} (${from}): this merge worker reads version ${PARTIAL_VERSION}; run the same logflow on every counter and merge worker`
          : `not a partial of version ${PARTIAL_VERSION} (version byte ${version})`,
      );
    }
    const kind = r.u8();
    if (kind !== KIND_PARTIAL) throw new WireError(`not a partial (kind ${kind})`);
    const flags = r.u8();
    const clientsAt = r.u32le();
    const [partition, after, to, shard, shards, part, batchMs, atMs, wmMs, maxEvent, rangeEvents, unplacedErrors] = Array.from({ length: 12 }, () => r.varint()) as number[];
    if (to! < after! || shards! < 1 || shard! >= shards! || batchMs! < 1) throw new WireError(`a partial with impossible fields (range ${after}..${to}, shard ${shard} of ${shards}, batch ${batchMs} ms)`);
    const sources: [string, number][] = [];
    for (let n = r.varint(); n > 0; n--) {
      r.bytes();
      sources.push([r.data.toString('utf8', r.start, r.end), r.varint() - 1]);
    }
    const dims = readDims(r);
    this.head = {
      partition: partition!,
      after: after!,
      to: to!,
      shard: shard!,
      shards: shards!,
      part: part!,
      last: (flags & FLAG_LAST) !== 0,
      batchMs: batchMs!,
      atMs: atMs!,
      wmMs: wmMs!,
      maxEventMs: maxEvent === 0 ? null : maxEvent! - 1,
      rangeEvents: rangeEvents!,
      unplacedErrors: unplacedErrors!,
      sources,
      dims,
    };
    if (clientsAt > r.data.length) throw new WireError(`a client table at byte ${clientsAt} of ${r.data.length}`);
    this.cells = new CellsCursor(r, dims.length, clientsAt > 0 ? r.data.subarray(clientsAt) : undefined);
  }

  /** The next slot (`slot`, `parseErrors`, then its sections through `cells`); false at the end. */
  nextSlot(): boolean {
    this.cells.finish();
    const r = this.reader;
    if (r.u8() === 0) return false;
    this.slot = r.svarint();
    this.parseErrors = r.varint();
    this.cells.begin();
    return true;
  }
}
