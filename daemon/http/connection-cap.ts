import type { Server } from 'node:http';
import type { Logger } from '../log.js';
import { httpAcceptFailed, httpConnectionRefusedByLimit } from '../telemetry/index.js';

/**
 * A request must have sent its headers this soon after the connection opened (Node's
 * default is 60 s): a connection that sends nothing holds one of `maxConnections` slots,
 * and a flood of them shuts out the dashboard and the healthcheck until this runs out.
 * Node answers such a connection 408 and closes it (the clientError handler, errors.ts).
 */
const HEADERS_TIMEOUT_MS = 10_000;

/**
 * `a1.http.maxConnections` on the HTTP server: past it, Node closes a new connection at
 * once ('drop'), counted and logged (the first of every hundred). Without a cap, ~21,000
 * idle connections took every descriptor of the process and the pipeline's threads failed
 * on EMFILE. The figures join /api/stats and /metrics (`http`).
 */
export class ConnectionCap {
  readonly #max: number;
  readonly #log: Logger;
  readonly #refused = httpConnectionRefusedByLimit();
  #open = 0;

  constructor(max: number, log: Logger) {
    this.#max = max;
    this.#log = log;
  }

  install(server: Server): void {
    server.maxConnections = this.#max;
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.on('connection', (socket) => {
      this.#open++;
      socket.once('close', () => this.#open--);
    });
    // An accept that fails (EMFILE: every descriptor taken) must not end the thread (nobody
    // else listens for 'error' once Fastify listens); accepting goes on when descriptors free up.
    server.on('error', (err) => {
      if (server.listening) httpAcceptFailed.emit(this.#log, { err: err.message });
    });
    server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
      this.#refused.emit(this.#log, 'maxConnections', { peer: `${data?.remoteAddress}:${data?.remotePort}`, open: this.#open, maxConnections: this.#max });
    });
  }

  get figures(): { connections: number; refusedConnections: number } {
    return { connections: this.#open, refusedConnections: this.#refused.total };
  }
}
