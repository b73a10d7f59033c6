import { LogflowError } from '../../errors.js';

/**
 * Netty framing as Avro's Java `NettyTransportCodec` (and avsc's stateful channels) speak
 * it: `[serial:int32][count:int32]` then `count` times `[length:int32][bytes]`, big-endian.
 * One frame carries one request or response, whatever the number of buffers.
 */
export interface NettyFrame {
  readonly serial: number;
  readonly payload: Buffer;
}

export interface FrameLimits {
  /** Largest request or response accepted, all buffers together. */
  readonly maxFrameBytes: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxFrameBytes: 64 * 1024 * 1024 };

/** Incremental decoder: push socket chunks in, whole frames come out. */
export class NettyFrameDecoder {
  readonly #limits: FrameLimits;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes the unfinished frame is known to need, at least (from its length prefixes). */
  #needed = 0;

  constructor(limits: FrameLimits = DEFAULT_FRAME_LIMITS) {
    this.#limits = limits;
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
    let buf = this.#pending.length === 1 ? chunk : Buffer.concat(this.#pending, this.#pendingBytes);
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
    } else {
      buf = pos === 0 ? buf : buf.subarray(pos);
      this.#pending = [buf];
      this.#pendingBytes = buf.length;
      this.#needed = frameBytesNeeded(buf);
      // A frame that announces more than the limit is refused before it is buffered.
      if (this.#needed > this.#limits.maxFrameBytes + 8 * 1024) {
        throw new LogflowError('LF_AVRO_FRAME', `Netty frame of at least ${this.#needed} bytes exceeds the limit of ${this.#limits.maxFrameBytes}`);
      }
    }
  }

  /** Returns the bytes one complete frame took, or 0 when it is not all here yet. */
  #tryFrame(buf: Buffer, start: number, onFrame: (frame: NettyFrame) => void): number {
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
    onFrame({ serial, payload: count === 1 ? buf.subarray(start + 12, pos) : joinBuffers(buf, start + 8, count, total) });
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

/** A lower bound of the bytes the frame at the start of `buf` takes, from what is here. */
function frameBytesNeeded(buf: Buffer): number {
  if (buf.length < 8) return 8;
  const count = buf.readInt32BE(4);
  let pos = 8;
  for (let i = 0; i < count; i++) {
    if (buf.length - pos < 4) return pos + 4;
    const len = buf.readInt32BE(pos);
    if (len < 0) return 0; // let the parser report it
    pos += 4 + len;
    if (pos > buf.length) return pos;
  }
  return pos;
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
