import net from 'node:net';
import tls from 'node:tls';
import { LogflowError } from '../errors.js';
import type { EventBatch } from '../channel/event-batch.js';
import { AvroReader } from './binary.js';
import { deflateWire, type DeflateWire } from './deflate-wire.js';
import { encodeAppendBatchFrame } from './flume-event-codec.js';
import { NettyFrameDecoder } from './netty-framing.js';
import {
  FLUME_PROTOCOL_HASH,
  FLUME_PROTOCOL_JSON,
  HandshakeRequest,
  HandshakeResponse,
  STATUS,
  type HandshakeResponseValue,
  type Status,
} from './protocol.js';

export interface AvroRpcClientOptions {
  readonly host: string;
  readonly port: number;
  readonly connectTimeout: number;
  readonly requestTimeout: number;
  /** Flume's `compression-level` when `compression-type = deflate`; absent: no compression. */
  readonly deflateLevel?: number;
  /** Flume's `ssl = true`: `ca` (PEM) replaces the system's CAs; `trustAll` checks nothing. */
  readonly tls?: { readonly ca?: Buffer; readonly trustAll: boolean };
}

interface PendingCall {
  resolve(payload: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The sending end of Flume's AvroSourceProtocol (what Flume's avro sink / RPC client is):
 * one stateful connection, Avro handshake on its first call, then bare calls.
 */
export class AvroRpcClient {
  readonly #opts: AvroRpcClientOptions;
  readonly #socket: net.Socket;
  readonly #decoder = new NettyFrameDecoder();
  readonly #pending = new Map<number, PendingCall>();
  #serial = 0;
  #handshaken = false;
  #handshaking: Promise<void> | undefined;
  readonly #pool: Buffer[] = [];
  #closed: Error | undefined;
  readonly #deflate: DeflateWire | undefined;
  #answered = false;

  private constructor(opts: AvroRpcClientOptions, socket: net.Socket) {
    this.#opts = opts;
    this.#socket = socket;
    socket.setNoDelay(true);
    const onData = (chunk: Buffer) => {
      try {
        this.#decoder.push(chunk, (f) => this.#settle(f.serial, f.payload));
      } catch (err) {
        this.#fail(err as Error);
      }
    };
    if (opts.deflateLevel === undefined) socket.on('data', onData);
    else {
      this.#deflate = deflateWire(socket, opts.deflateLevel, onData, (err) => {
        this.#fail(new LogflowError('LF_AVRO_FRAME', `the receiver does not answer in deflate (is its compression-type deflate?): ${err.message}`));
      });
    }
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => {
      // A receiver that closes before its first answer often disagrees on compression.
      const hint = this.#answered ? '' : opts.deflateLevel === undefined
        ? ' before answering (does it want compression-type = deflate?)'
        : ' before answering (is its compression-type deflate too?)';
      this.#fail(new LogflowError('LF_AVRO_CLOSED', `connection closed by the server${hint}`));
    });
  }

  static connect(opts: AvroRpcClientOptions): Promise<AvroRpcClient> {
    return new Promise((resolve, reject) => {
      const socket = opts.tls
        ? tls.connect({
          host: opts.host,
          port: opts.port,
          ...(opts.tls.ca && { ca: opts.tls.ca }),
          rejectUnauthorized: !opts.tls.trustAll,
          ...(net.isIP(opts.host) === 0 && { servername: opts.host }),
        })
        : net.connect({ host: opts.host, port: opts.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new LogflowError('LF_AVRO_TIMEOUT', `connect to ${opts.host}:${opts.port} timed out after ${opts.connectTimeout} ms`));
      }, opts.connectTimeout);
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', reject);
        resolve(new AvroRpcClient(opts, socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(opts.tls ? new LogflowError('LF_AVRO_CLOSED', `TLS connection to ${opts.host}:${opts.port} failed (does the receiver have ssl = true, and is its certificate trusted?): ${err.message}`) : err);
      });
    });
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Called once when the connection ends, for whatever reason. */
  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#socket.once('close', listener);
  }

  /**
   * Sends the batches' events in one `appendBatch` call and returns the receiver's status.
   * Calls may overlap (the receiver answers in order); the first one carries the Avro
   * handshake and the others wait for it, since a stateful connection shakes hands once.
   */
  async appendBatch(batches: readonly EventBatch[]): Promise<Status> {
    if (this.#handshaking) await this.#handshaking;
    if (this.#handshaken) return this.#call(undefined, batches);
    let done!: () => void;
    this.#handshaking = new Promise<void>((resolve) => (done = resolve));
    try {
      return await this.#call(handshakeBytes(false), batches);
    } finally {
      this.#handshaking = undefined;
      done();
    }
  }

  async #call(handshake: Buffer | undefined, batches: readonly EventBatch[]): Promise<Status> {
    for (;;) {
      const serial = this.#nextSerial();
      let pooled: Buffer | undefined;
      const frame = encodeAppendBatchFrame(serial, handshake, batches, (size) => {
        pooled = this.#takeBuffer(size);
        return pooled.subarray(0, size);
      });
      let reply: Buffer;
      try {
        reply = await this.#send(serial, frame);
      } finally {
        // Answered (or failed): the socket is done with the frame, its buffer can be reused.
        if (pooled && !this.#closed) this.#pool.push(pooled);
      }
      const r = new AvroReader(reply);
      if (handshake) {
        const { value, offset } = HandshakeResponse.decode(reply, 0) as { value: HandshakeResponseValue; offset: number };
        if (offset < 0) throw new LogflowError('LF_AVRO_HANDSHAKE', 'truncated handshake response');
        if (value.match === 'NONE') {
          // The server does not know our protocol's hash: say the whole protocol, once.
          handshake = handshakeBytes(true);
          continue;
        }
        this.#handshaken = true;
        r.pos = offset;
      }
      return readStatus(r);
    }
  }

  close(): void {
    this.#closed ??= new LogflowError('LF_AVRO_CLOSED', 'client closed');
    this.#socket.destroy();
  }

  /** A buffer of at least `size` bytes from the pool of finished frames (fewer GCs). */
  #takeBuffer(size: number): Buffer {
    const i = this.#pool.findIndex((b) => b.length >= size);
    if (i >= 0) return this.#pool.splice(i, 1)[0]!;
    return Buffer.allocUnsafe(Math.max(size, 64 * 1024));
  }

  #nextSerial(): number {
    this.#serial = (this.#serial + 1) | 0;
    return this.#serial;
  }

  #send(serial: number, frame: Buffer): Promise<Buffer> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(serial);
        reject(new LogflowError('LF_AVRO_TIMEOUT', `no answer within ${this.#opts.requestTimeout} ms`));
        this.close();
      }, this.#opts.requestTimeout);
      this.#pending.set(serial, { resolve, reject, timer });
      if (this.#deflate) this.#deflate.write(frame);
      else this.#socket.write(frame);
    });
  }

  #settle(serial: number, payload: Buffer): void {
    const call = this.#pending.get(serial);
    if (!call) return;
    this.#answered = true;
    this.#pending.delete(serial);
    clearTimeout(call.timer);
    call.resolve(payload);
  }

  #fail(err: Error): void {
    this.#closed ??= err;
    for (const [serial, call] of this.#pending) {
      clearTimeout(call.timer);
      call.reject(err);
      this.#pending.delete(serial);
    }
    this.#socket.destroy();
  }
}

function handshakeBytes(withProtocol: boolean): Buffer {
  return HandshakeRequest.toBuffer({
    clientHash: FLUME_PROTOCOL_HASH,
    clientProtocol: withProtocol ? FLUME_PROTOCOL_JSON : null,
    serverHash: FLUME_PROTOCOL_HASH,
    meta: null,
  });
}

function readStatus(r: AvroReader): Status {
  for (let m = r.blockCount(); m !== 0; m = r.blockCount()) {
    for (let j = 0; j < m; j++) { r.skipBytes(); r.skipBytes(); }
  }
  if (r.boolean()) {
    r.long(); // union branch of the error
    throw new LogflowError('LF_AVRO_REMOTE', `receiver answered an error: ${r.string()}`);
  }
  const status = STATUS[r.long()];
  if (!status) throw new LogflowError('LF_AVRO_MESSAGE', 'receiver answered an unknown status');
  return status;
}
