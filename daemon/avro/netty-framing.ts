import { LogflowError } from '../errors.js';

/**
 * Netty framing as Avro's Java `NettyTransportCodec` (and avsc's stateful channels) speak
 * it: `[serial:int32][count:int32]` then `count` times `[length:int32][bytes]`, big-endian.
 * One frame carries one request or response, whatever the number of buffers.
 */
export interface NettyFrame {
  readonly serial: number;
  readonly payload: Buffer;
  /**
   * Set when the payload's memory is the decoder's to use again (`reuseBuffers`): call it
   * once nothing reads the payload any more.
   */
  readonly release?: () => void;
}

export interface FrameLimits {
  /** Largest request or response accepted, all buffers together. */
  readonly maxFrameBytes: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxFrameBytes: 64 * 1024 * 1024 };

/** Frames of this size to REUSE_MAX_BYTES are joined into buffers used again; at most REUSE_KEEP are kept. */
const REUSE_MIN_BYTES = 64 * 1024;
const REUSE_MAX_BYTES = 16 * 1024 * 1024;
const REUSE_KEEP = 4;

/**
 * Buffers to join large frames in, used again once their frame is handled. A frame of
 * 1,000 log lines is ~270 KB in ~5 socket chunks: joined into fresh memory each time, the
 * page faults of 270 MB per million lines were the job thread's largest single cost
 * (Buffer.concat 248 ms of 3.2 s, cpu profile of an event-time replay); copying into
 * memory used before takes ~5 ms for the same bytes.
 */
class FrameBuffers {
  readonly #free: Buffer[] = [];

  take(size: number): Buffer {
    const free = this.#free;
    for (let i = free.length - 1; i >= 0; i--) {
      if (free[i]!.length >= size) return free.splice(i, 1)[0]!;
    }
    // Rounded up, so frames of a similar size fit the same buffer.
    return Buffer.allocUnsafeSlow(Math.ceil(size / 65536) * 65536);
  }

  give(buf: Buffer): void {
    if (buf.length <= REUSE_MAX_BYTES && this.#free.length < REUSE_KEEP) this.#free.push(buf);
  }
}

/** Incremental decoder: push socket chunks in, whole frames come out. */
export class NettyFrameDecoder {
  readonly #limits: FrameLimits;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes the unfinished frame is known to need, at least (from its length prefixes). */
  #needed = 0;
  /** Whether `#needed` is the unfinished frame's exact size (all its length prefixes are here). */
  #exact = false;
  readonly #buffers: FrameBuffers | undefined;

  /**
   * `reuseBuffers`: a frame that arrived in several chunks is joined into memory used again
   * once the frame's `release` is called (its reader must not keep the payload past that).
   */
  constructor(limits: FrameLimits = DEFAULT_FRAME_LIMITS, opts: { reuseBuffers?: boolean } = {}) {
    this.#limits = limits;
    this.#buffers = opts.reuseBuffers ? new FrameBuffers() : undefined;
  }

  /** True while bytes of an unfinished frame are held (a peer that stalls mid-frame). */
  get hasPartialFrame(): boolean {
    return this.#pendingBytes > 0;
  }

  push(chunk: Buffer, onFrame: (frame: NettyFrame) => void): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    // A large frame arrives in many socket chunks: join them once, when it is all here.
    if (this.#pendingBytes < this.#needed) return;
    let buf: Buffer;
    if (this.#pending.length === 1) buf = chunk;
    else if (this.#buffers && this.#exact && this.#needed >= REUSE_MIN_BYTES) buf = this.#joinFrame(onFrame);
    else buf = Buffer.concat(this.#pending, this.#pendingBytes);
    let pos = 0;
    for (;;) {
      const consumed = this.#tryFrame(buf, pos, onFrame);
      if (consumed === 0) break;
      pos += consumed;
    }
    if (pos === buf.length) {
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#needed = 0;
      this.#exact = false;
    } else {
      buf = pos === 0 ? buf : buf.subarray(pos);
      this.#pending = [buf];
      this.#pendingBytes = buf.length;
      const needed = frameBytesNeeded(buf);
      this.#needed = needed.bytes;
      this.#exact = needed.exact;
      // A frame that announces more than the limit is refused before it is buffered.
      if (this.#needed > this.#limits.maxFrameBytes + 8 * 1024) {
        throw new LogflowError('LF_AVRO_FRAME', `Netty frame of at least ${this.#needed} bytes exceeds the limit of ${this.#limits.maxFrameBytes}`);
      }
    }
  }

  /**
   * The unfinished frame is all here (its exact size is known, and it ends in the last chunk:
   * the one before left it short): joins its bytes alone into a reused buffer, hands the
   * frame on, and returns the last chunk's bytes after it.
   */
  #joinFrame(onFrame: (frame: NettyFrame) => void): Buffer {
    const size = this.#needed;
    const buffers = this.#buffers!;
    const joined = buffers.take(size);
    const pending = this.#pending;
    let at = 0;
    for (let i = 0; i < pending.length - 1; i++) at += pending[i]!.copy(joined, at);
    const last = pending[pending.length - 1]!;
    last.copy(joined, at, 0, size - at);
    const rest = last.subarray(size - at);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      buffers.give(joined);
    };
    const consumed = this.#tryFrame(joined.subarray(0, size), 0, onFrame, release);
    if (consumed !== size) throw new LogflowError('LF_AVRO_FRAME', `Netty frame of ${consumed} bytes where ${size} were announced`);
    return rest;
  }

  /** Returns the bytes one complete frame took, or 0 when it is not all here yet. */
  #tryFrame(buf: Buffer, start: number, onFrame: (frame: NettyFrame) => void, release?: () => void): number {
    const avail = buf.length - start;
    if (avail < 8) return 0;
    const serial = buf.readInt32BE(start);
    const count = buf.readInt32BE(start + 4);
    if (count < 0 || count > 1_000_000) {
      throw new LogflowError('LF_AVRO_FRAME', `bad Netty frame: ${count} buffers`);
    }
    let pos = start + 8;
    let total = 0;
    for (let i = 0; i < count; i++) {
      if (buf.length - pos < 4) return this.#checkPartial(total);
      const len = buf.readInt32BE(pos);
      if (len < 0) throw new LogflowError('LF_AVRO_FRAME', `bad Netty frame: buffer length ${len}`);
      total += len;
      this.#checkSize(total);
      if (buf.length - pos - 4 < len) return 0;
      pos += 4 + len;
    }
    if (count === 1) onFrame({ serial, payload: buf.subarray(start + 12, pos), release });
    else {
      onFrame({ serial, payload: joinBuffers(buf, start + 8, count, total) });
      release?.();
    }
    return pos - start;
  }

  #checkPartial(total: number): number {
    this.#checkSize(total);
    return 0;
  }

  #checkSize(total: number): void {
    if (total > this.#limits.maxFrameBytes) {
      throw new LogflowError('LF_AVRO_FRAME', `Netty frame of ${total} bytes exceeds the limit of ${this.#limits.maxFrameBytes}`);
    }
  }
}

/**
 * A lower bound of the bytes the frame at the start of `buf` takes, from what is here;
 * exact once every length prefix of the frame is here.
 */
function frameBytesNeeded(buf: Buffer): { bytes: number; exact: boolean } {
  if (buf.length < 8) return { bytes: 8, exact: false };
  const count = buf.readInt32BE(4);
  let pos = 8;
  for (let i = 0; i < count; i++) {
    if (buf.length - pos < 4) return { bytes: pos + 4, exact: false };
    const len = buf.readInt32BE(pos);
    if (len < 0) return { bytes: 0, exact: false }; // let the parser report it
    pos += 4 + len;
    if (pos > buf.length) return { bytes: pos, exact: i === count - 1 };
  }
  return { bytes: pos, exact: true };
}

function joinBuffers(buf: Buffer, pos: number, count: number, total: number): Buffer {
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const len = buf.readInt32BE(pos);
    buf.copy(out, at, pos + 4, pos + 4 + len);
    at += len;
    pos += 4 + len;
  }
  return out;
}

/** Bytes of the frame header for a single-buffer frame of `payloadLength` bytes. */
export const FRAME_HEADER_BYTES = 12;

export function writeFrameHeader(buf: Buffer, serial: number, payloadLength: number): void {
  buf.writeInt32BE(serial | 0, 0);
  buf.writeInt32BE(1, 4);
  buf.writeInt32BE(payloadLength, 8);
}

export function encodeFrame(serial: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(out, serial, payload.length);
  payload.copy(out, FRAME_HEADER_BYTES);
  return out;
}
