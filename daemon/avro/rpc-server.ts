import net from 'node:net';
import tls from 'node:tls';
import avro from 'avsc';
import { LogflowError } from '../errors.js';
import { avroAcceptFailed, avroConnectionError, avroConnectionIdle, avroConnectionRefusedByIpFilter, avroConnectionRefusedByLimit, avroHandlerFailed, avroNotDeflate, avroProtocolError, avroTlsHandshakeFailed, avroUnknownMessage } from '../telemetry/index.js';
import { POSITION_HEADER } from '../channel/position-header.js';
import type { Logger } from '../log.js';
import { AvroReader, encodeString } from './binary.js';
import { DEFAULT_COMPRESSION_LEVEL, deflateWire, ZLIB_FIRST_BYTE, type CompressionType } from './deflate-wire.js';
import { DecodedEvents, decodeEvent, decodeEventArray, type EventDecodeOptions } from './flume-event-codec.js';
import { ipAllowed, type IpFilterRule } from './ip-filter.js';
import { encodeFrame, NettyFrameDecoder, type NettyFrame } from './netty-framing.js';
import {
  FLUME_PROTOCOL_HASH,
  FLUME_PROTOCOL_JSON,
  HandshakeRequest,
  HandshakeResponse,
  STATUS,
  type HandshakeRequestValue,
  type HandshakeResponseValue,
  type Status,
} from './protocol.js';

/**
 * The receiving end of Flume's AvroSourceProtocol over Netty-framed TCP: what Flume's avro
 * source (and Spark's Flume receiver) is. Calls on one connection are answered in order;
 * the next call is not read until the handler has settled the previous one.
 */
export interface EventHandler {
  /**
   * Consume `events` synchronously; the returned status is sent once the promise settles.
   * Their bytes are the receiver's again after that: a handler that keeps them copies them.
   */
  (events: DecodedEvents, peer: string): Status | Promise<Status>;
}

export interface AvroRpcServerOptions {
  readonly bind: string;
  readonly port: number;
  readonly timestampHeader?: string;
  readonly positionHeader?: string;
  readonly idHeader?: string;
  readonly maxFrameBytes?: number;
  readonly maxBatchEvents?: number;
  /**
   * Connections open at once. A new connection past it closes the one that has gone
   * longest without a whole frame (a call), with a log line: so outsiders holding every
   * slot idle (or trickling bytes) cannot starve the senders that make calls.
   */
  readonly maxConnections?: number;
  /** A connection silent this long (for example stalled mid-frame) is closed. */
  readonly idleTimeoutMs?: number;
  /** Flume's `compression-type`: `deflate` wants every client to compress too. */
  readonly compressionType?: CompressionType;
  /** Flume's `ssl = true`: the key and certificate (a PKCS12 keystore). */
  readonly tls?: { readonly pfx: Buffer; readonly passphrase: string };
  /** Flume's `ipFilterRules`, when `ipFilter` is on: a refused peer is closed at once, with a log line. */
  readonly ipFilterRules?: readonly IpFilterRule[];
  readonly logger: Logger;
}

export class AvroRpcServer {
  readonly #opts: AvroRpcServerOptions;
  readonly #handler: EventHandler;
  readonly #server: net.Server;
  /** Open connections, the one that has gone longest without a frame first (a Map keeps insertion order). */
  readonly #sockets = new Map<net.Socket, string>();
  readonly #decodeOpts: EventDecodeOptions;
  /** Client protocol hashes already checked, so a client's handshake can be short. */
  readonly #knownClients = new Set<string>([FLUME_PROTOCOL_HASH.toString('hex')]);
  readonly #refused = avroConnectionRefusedByLimit();
  readonly #filtered = avroConnectionRefusedByIpFilter();
  #listening = false;

  constructor(opts: AvroRpcServerOptions, handler: EventHandler) {
    this.#opts = opts;
    this.#handler = handler;
    this.#decodeOpts = {
      timestampHeader: Buffer.from(opts.timestampHeader ?? 'timestamp'),
      positionHeader: Buffer.from(opts.positionHeader ?? POSITION_HEADER),
      idHeader: Buffer.from(opts.idHeader ?? 'id'),
      maxEvents: opts.maxBatchEvents ?? 1_000_000,
    };
    if (opts.tls) {
      const server = tls.createServer({ pfx: opts.tls.pfx, passphrase: opts.tls.passphrase }, (socket) => this.#accept(socket));
      server.on('tlsClientError', (err, socket) => {
        avroTlsHandshakeFailed.emit(opts.logger, { peer: `${socket.remoteAddress}:${socket.remotePort}`, err: err.message });
      });
      this.#server = server;
    } else {
      this.#server = net.createServer((socket) => this.#accept(socket));
    }
    // An accept that fails (EMFILE: every descriptor taken) must not end the thread; libuv
    // closes the pending connection and accepting goes on once descriptors are free again.
    this.#server.on('error', (err) => {
      if (this.#listening) avroAcceptFailed.emit(opts.logger, { err: err.message });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port, this.#opts.bind, () => {
        this.#server.off('error', reject);
        this.#listening = true;
        resolve();
      });
    });
    return this.port;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** Connections closed at once: by `ipFilterRules`, and past `maxConnections`. */
  get refusedConnections(): { ipFilter: number; maxConnections: number } {
    return { ipFilter: this.#filtered.total, maxConnections: this.#refused.total };
  }

  /** Stops accepting, closes every connection; in-flight calls are not answered (senders retry). */
  async close(): Promise<void> {
    for (const s of this.#sockets.keys()) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: net.Socket): void {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.#opts.ipFilterRules && !ipAllowed(this.#opts.ipFilterRules, socket.remoteAddress)) {
      this.#filtered.emit(this.#opts.logger, 'ipFilter', { peer });
      socket.destroy();
      return;
    }
    if (this.#sockets.size >= (this.#opts.maxConnections ?? 1000)) {
      const [stalest, stalestPeer] = this.#sockets.entries().next().value as [net.Socket, string];
      this.#refused.emit(this.#opts.logger, 'maxConnections', { peer, closed: stalestPeer, open: this.#sockets.size });
      this.#sockets.delete(stalest);
      stalest.destroy();
    }
    socket.setNoDelay(true);
    this.#sockets.set(socket, peer);
    socket.setTimeout(this.#opts.idleTimeoutMs ?? 60_000, () => {
      avroConnectionIdle.emit(this.#opts.logger, { peer });
      socket.destroy();
    });
    const conn = new Connection(this, socket, peer);
    if (this.#opts.compressionType === 'deflate') {
      // Flume's avro source answers at level 6 whatever the client's compression-level.
      const wire = deflateWire(socket, DEFAULT_COMPRESSION_LEVEL, (chunk) => conn.onData(chunk), (err) => {
        avroNotDeflate.emit(this.#opts.logger, { peer, err: err.message });
        socket.destroy();
      });
      conn.write = (buf) => wire.write(buf);
    } else {
      socket.on('data', (chunk) => conn.onData(chunk));
    }
    socket.on('error', (err) => avroConnectionError.emit(this.#opts.logger, { peer, err: err.message }));
    socket.on('close', () => this.#sockets.delete(socket));
  }

  /** @internal A whole frame came: the connection is the last one `maxConnections` would close. */
  touch(socket: net.Socket): void {
    const peer = this.#sockets.get(socket);
    if (peer === undefined) return;
    this.#sockets.delete(socket);
    this.#sockets.set(socket, peer);
  }

  /** @internal */
  get decodeOpts(): EventDecodeOptions {
    return this.#decodeOpts;
  }

  /** @internal */
  get frameLimits() {
    return { maxFrameBytes: this.#opts.maxFrameBytes ?? 64 * 1024 * 1024 };
  }

  /** @internal */
  get compressionType(): CompressionType {
    return this.#opts.compressionType ?? 'none';
  }

  /** @internal */
  get logger(): Logger {
    return this.#opts.logger;
  }

  /** @internal */
  handle(events: DecodedEvents, peer: string): Status | Promise<Status> {
    return this.#handler(events, peer);
  }

  /** @internal Answers a handshake; null means the client must resend with its protocol. */
  handshake(req: HandshakeRequestValue): HandshakeResponseValue {
    const clientKey = req.clientHash.toString('hex');
    if (!this.#knownClients.has(clientKey)) {
      if (req.clientProtocol === null) {
        return { match: 'NONE', serverProtocol: FLUME_PROTOCOL_JSON, serverHash: FLUME_PROTOCOL_HASH, meta: null };
      }
      checkClientProtocol(req.clientProtocol);
      this.#knownClients.add(clientKey);
    }
    return req.serverHash.equals(FLUME_PROTOCOL_HASH)
      ? { match: 'BOTH', serverProtocol: null, serverHash: null, meta: null }
      : { match: 'CLIENT', serverProtocol: FLUME_PROTOCOL_JSON, serverHash: FLUME_PROTOCOL_HASH, meta: null };
  }
}

/** A client's protocol must at least declare our messages with an AvroFlumeEvent shape. */
function checkClientProtocol(json: string): void {
  const svc = avro.Service.forProtocol(JSON.parse(json));
  const batch = svc.message('appendBatch') ?? svc.message('append');
  if (!batch) throw new LogflowError('LF_AVRO_HANDSHAKE', 'client protocol declares neither append nor appendBatch');
}

class Connection {
  readonly #server: AvroRpcServer;
  readonly #socket: net.Socket;
  readonly #peer: string;
  readonly #decoder: NettyFrameDecoder;
  readonly #events = new DecodedEvents();
  readonly #queue: NettyFrame[] = [];
  /** The client's protocol hash once it has shaken hands. */
  #clientHash: Buffer | undefined;
  #busy = false;
  #sawData = false;
  /** Where replies go: the socket, or the deflate stream in front of it. */
  write: (buf: Buffer) => void;

  constructor(server: AvroRpcServer, socket: net.Socket, peer: string) {
    this.#server = server;
    this.#socket = socket;
    this.#peer = peer;
    // Handlers consume a call's events before its status settles (`EventHandler`): the
    // frame's memory is used again after that.
    this.#decoder = new NettyFrameDecoder(server.frameLimits, { reuseBuffers: true });
    this.write = (buf) => void socket.write(buf);
  }

  onData(chunk: Buffer): void {
    if (!this.#sawData && chunk.length > 0) {
      this.#sawData = true;
      if (chunk[0] === ZLIB_FIRST_BYTE && this.#server.compressionType !== 'deflate') {
        this.#fail(new LogflowError('LF_AVRO_FRAME', 'the client sends a deflate stream: set compression-type = deflate on this receiver, or remove it on the sender'));
        return;
      }
      if (chunk[0] === TLS_HANDSHAKE_BYTE && !(this.#socket instanceof tls.TLSSocket)) {
        this.#fail(new LogflowError('LF_AVRO_HANDSHAKE', 'the client speaks TLS: set ssl = true on this receiver, or remove it on the sender'));
        return;
      }
    }
    const queued = this.#queue.length;
    try {
      this.#decoder.push(chunk, (frame) => this.#queue.push(frame));
    } catch (err) {
      this.#fail(err as Error);
      return;
    }
    if (this.#queue.length > queued) this.#server.touch(this.#socket);
    // Frames wait here while a call is handled; stop reading if a client floods us.
    if (this.#queue.length > 16) this.#socket.pause();
    if (!this.#busy) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    try {
      while (this.#queue.length > 0 && !this.#socket.destroyed) {
        const frame = this.#queue.shift()!;
        let reply: Buffer | undefined;
        try {
          reply = await this.#call(frame);
        } finally {
          frame.release?.();
        }
        if (reply) this.write(reply);
        if (this.#queue.length <= 16) this.#socket.resume();
      }
    } catch (err) {
      this.#fail(err as Error);
    } finally {
      this.#busy = false;
    }
  }

  async #call(frame: NettyFrame): Promise<Buffer | undefined> {
    const payload = frame.payload;
    let pos = 0;
    let handshakeBytes: Buffer | undefined;
    // Java's Netty clients shake hands once per connection; others (Python's requestor)
    // on every call: after the first, a call that starts with this client's hash has one.
    if (!this.#clientHash || (payload.length >= 16 && payload.compare(this.#clientHash, 0, 16, 0, 16) === 0)) {
      const { value, offset } = HandshakeRequest.decode(payload, 0) as { value: HandshakeRequestValue; offset: number };
      if (offset < 0) throw new LogflowError('LF_AVRO_HANDSHAKE', 'truncated handshake');
      pos = offset;
      const res = this.#server.handshake(value);
      handshakeBytes = HandshakeResponse.toBuffer(res);
      if (res.match === 'NONE') return encodeFrame(frame.serial, handshakeBytes);
      this.#clientHash = Buffer.from(value.clientHash);
    }
    const r = new AvroReader(payload, pos);
    for (let m = r.blockCount(); m !== 0; m = r.blockCount()) {
      for (let j = 0; j < m; j++) { r.skipBytes(); r.skipBytes(); }
    }
    const name = r.string();
    let status: Status;
    if (name === 'appendBatch' || name === 'append') {
      const events = this.#events;
      events.reset(payload);
      events.single = name === 'append';
      events.encodedStart = r.pos;
      if (events.single) decodeEvent(r, events, this.#server.decodeOpts);
      else decodeEventArray(r, events, this.#server.decodeOpts);
      events.encodedEnd = r.pos;
      try {
        status = await this.#server.handle(this.#events, this.#peer);
      } catch (err) {
        avroHandlerFailed.emit(this.#server.logger, { peer: this.#peer, err });
        status = 'FAILED';
      }
      return encodeFrame(frame.serial, response(handshakeBytes, status));
    }
    avroUnknownMessage.emit(this.#server.logger, { peer: this.#peer, message: name });
    return encodeFrame(frame.serial, errorResponse(handshakeBytes, `unknown message: ${name}`));
  }

  #fail(err: Error): void {
    avroProtocolError.emit(this.#server.logger, { peer: this.#peer, err: err.message });
    this.#socket.destroy();
  }
}

/** A TLS record of type handshake: what a TLS client sends first. */
const TLS_HANDSHAKE_BYTE = 0x16;

function response(handshake: Buffer | undefined, status: Status): Buffer {
  const call = Buffer.from([0, 0, STATUS.indexOf(status) * 2]);
  return handshake ? Buffer.concat([handshake, call]) : call;
}

function errorResponse(handshake: Buffer | undefined, message: string): Buffer {
  // metadata, error flag, union branch 0 (the system error string), the message
  const call = Buffer.concat([Buffer.from([0, 1, 0]), encodeString(message)]);
  return handshake ? Buffer.concat([handshake, call]) : call;
}
