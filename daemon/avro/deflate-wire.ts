import type net from 'node:net';
import zlib from 'node:zlib';

/**
 * Flume's `compression-type = deflate`: Flume puts Netty's ZlibEncoder/ZlibDecoder (ZLIB
 * wrapper) under the Avro frame codec, so each direction of the TCP connection is one zlib
 * stream, sync-flushed after every write (one write = one Netty frame). Both ends must
 * agree; a plain peer sees bytes that are not frames, a compressed one bytes that are not
 * zlib.
 */
export const COMPRESSION_TYPES = ['none', 'deflate'] as const;
export type CompressionType = (typeof COMPRESSION_TYPES)[number];

/** Flume's default level, and the one its avro source always uses for replies. */
export const DEFAULT_COMPRESSION_LEVEL = 6;

/** The first byte of a zlib stream with a 32 KB window (what Netty and node:zlib write). */
export const ZLIB_FIRST_BYTE = 0x78;

export interface DeflateWire {
  /** Compresses `buf` and flushes it to the socket. */
  write(buf: Buffer): void;
  destroy(): void;
}

/**
 * Puts a zlib stream each way between `socket` and the frame codec: `onData` gets the
 * inflated bytes; `onError` is told once if the peer's bytes are not a zlib stream.
 */
export function deflateWire(
  socket: net.Socket,
  level: number,
  onData: (chunk: Buffer) => void,
  onError: (err: Error) => void,
): DeflateWire {
  const inflate = zlib.createInflate();
  // Z_SYNC_FLUSH per write: the peer can decode each frame as soon as it arrives.
  const deflate = zlib.createDeflate({ level, flush: zlib.constants.Z_SYNC_FLUSH });
  let failed = false;
  const fail = (err: Error) => {
    if (failed) return;
    failed = true;
    onError(err);
  };
  socket.on('data', (chunk: Buffer) => {
    if (!failed) inflate.write(chunk);
  });
  inflate.on('data', onData);
  inflate.on('error', fail);
  deflate.on('data', (chunk: Buffer) => {
    if (!socket.destroyed) socket.write(chunk);
  });
  deflate.on('error', fail);
  socket.on('close', () => {
    inflate.destroy();
    deflate.destroy();
  });
  return {
    write(buf: Buffer): void {
      if (!failed && !deflate.destroyed) deflate.write(buf);
    },
    destroy(): void {
      inflate.destroy();
      deflate.destroy();
    },
  };
}
