import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { httpAcceptFailed, httpConnectionRefusedByLimit } from '../telemetry/index.js';

/**
 * A request must have sent its headers this soon after the connection opened (Node's
 * default is 60 s): a connection that sends nothing is closed then (Node answers it 408,
 * the clientError handler, errors.ts), so idle outsiders do not hold descriptors for long.
 */
const HEADERS_TIMEOUT_MS = 10_000;

/**
 * `a1.http.maxConnections` on the HTTP server. Past it, a new connection closes the one
 * that has gone longest without a request in flight (opened or last answered longest ago;
 * a connection trickling the bytes of headers that never end has none), as the Avro
 * receiver does: so outsiders holding every slot idle cannot shut out the dashboard or a
 * healthcheck. A request in flight (an event stream, a slow query) is never cut: when every
 * connection has one, the new connection is closed at once. Both are counted and logged (the
 * first of every hundred). Without a cap, ~21,000 idle connections took every descriptor of
 * the process and the pipeline's threads failed on EMFILE. The figures join /api/stats and
 * /metrics (`http`).
 */
export class ConnectionCap {
  readonly #max: number;
  readonly #log: Logger;
  readonly #refused = httpConnectionRefusedByLimit();
  #open = 0;
  /** Connections without a request in flight, idle longest first (a Map keeps insertion order). */
  readonly #idle = new Map<Socket, string>();
  /** Requests in flight per connection (HTTP/1.1 pipelining may queue several). */
  readonly #inFlight = new WeakMap<Socket, number>();

  constructor(max: number, log: Logger) {
    this.#max = max;
    this.#log = log;
  }

  install(server: Server): void {
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.on('connection', (socket: Socket) => {
      const peer = `${socket.remoteAddress}:${socket.remotePort}`;
      if (this.#open >= this.#max) {
        const idlest = this.#idle.entries().next().value;
        if (idlest === undefined) {
          this.#refused.emit(this.#log, 'maxConnections', { peer, closed: 'the new one: every connection has a request in flight', open: this.#open, maxConnections: this.#max });
          socket.destroy();
          return;
        }
        const [stalest, stalestPeer] = idlest;
        this.#refused.emit(this.#log, 'maxConnections', { peer, closed: stalestPeer, open: this.#open, maxConnections: this.#max });
        this.#idle.delete(stalest);
        stalest.destroy();
      }
      this.#open++;
      this.#idle.set(socket, peer);
      socket.once('close', () => {
        this.#open--;
        this.#idle.delete(socket);
      });
    });
    server.on('request', (req, res) => {
      const socket = req.socket;
      this.#inFlight.set(socket, (this.#inFlight.get(socket) ?? 0) + 1);
      this.#idle.delete(socket);
      res.once('close', () => {
        const left = (this.#inFlight.get(socket) ?? 1) - 1;
        this.#inFlight.set(socket, left);
        // Idle again, newest: to the end of the line.
        if (left === 0 && !socket.destroyed) this.#idle.set(socket, `${socket.remoteAddress}:${socket.remotePort}`);
      });
    });
    // An accept that fails (EMFILE: every descriptor taken) must not end the thread (nobody
    // else listens for 'error' once Fastify listens); accepting goes on when descriptors free up.
    server.on('error', (err) => {
      if (server.listening) httpAcceptFailed.emit(this.#log, { err: err.message });
    });
  }

  get figures(): { connections: number; refusedConnections: number } {
    return { connections: this.#open, refusedConnections: this.#refused.total };
  }
}
