import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type ConnectionOptions } from '@nats-io/transport-node';
import { freePort, waitFor } from './daemon-process.js';

/** Debian's nats-server (apt-get install nats-server), or NATS_SERVER. */
export const NATS_SERVER = process.env.NATS_SERVER ?? ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p));

/** The reason to skip the NATS tests, or false when nats-server is there. */
export const skipWithoutNats: string | false = NATS_SERVER ? false : 'nats-server is not installed (apt-get install nats-server, or set NATS_SERVER)';

interface Node {
  readonly name: string;
  readonly port: number;
  readonly conf: string;
  proc: ChildProcess | undefined;
}

/**
 * A JetStream cluster of real nats-server processes on loopback ports chosen free now,
 * each with its own store under `dir`. Nodes can be killed and restarted by name.
 */
export class NatsCluster {
  readonly #nodes: Node[];
  /** How a client logs in (when the servers want a login). */
  readonly connectOptions: Partial<ConnectionOptions>;

  private constructor(nodes: Node[], connectOptions: Partial<ConnectionOptions>) {
    this.#nodes = nodes;
    this.connectOptions = connectOptions;
  }

  /** `extra`: lines added to every server's configuration (accounts, TLS). */
  static async start(dir: string, size = 3, options: { extra?: string[]; connect?: Partial<ConnectionOptions> } = {}): Promise<NatsCluster> {
    const ports = [];
    for (let i = 0; i < size; i++) ports.push({ client: await freePort(), cluster: await freePort() });
    const routes = ports.map((p) => `nats://127.0.0.1:${p.cluster}`).join(', ');
    const nodes = ports.map((p, i) => {
      const name = `n${i + 1}`;
      const store = path.join(dir, name);
      mkdirSync(store, { recursive: true });
      const conf = path.join(dir, `${name}.conf`);
      writeFileSync(conf, [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${p.client}`,
        `jetstream { store_dir: "${store}" }`,
        // One server: no cluster (JetStream runs standalone, R1 streams), ready at once.
        ...(size > 1 ? [`cluster { name: logflow, listen: 127.0.0.1:${p.cluster}, routes: [${routes}] }`] : []),
        ...(options.extra ?? []),
        '',
      ].join('\n'));
      return { name, port: p.client, conf, proc: undefined };
    });
    const cluster = new NatsCluster(nodes, options.connect ?? {});
    for (const n of nodes) cluster.#spawn(n);
    await Promise.all(nodes.map((n) => waitForPort(n.port)));
    await cluster.#jetStreamReady();
    return cluster;
  }

  /** Until the servers have elected a JetStream meta leader (a few seconds after start). */
  async #jetStreamReady(): Promise<void> {
    const nc = await connect({ ...this.connectOptions, servers: this.servers.split(',') });
    try {
      const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 2_000 });
      await waitFor('a JetStream meta leader', () => jsm.getAccountInfo().then(() => true), 30_000);
    } finally {
      await nc.close();
    }
  }

  /** `nats://127.0.0.1:P,...`, the form the daemon's `servers` takes. */
  get servers(): string {
    return this.#nodes.map((n) => `${this.connectOptions.tls ? 'tls' : 'nats'}://127.0.0.1:${n.port}`).join(',');
  }

  /** The running servers' process ids (for their CPU time in /proc). */
  get pids(): number[] {
    return this.#nodes.flatMap((n) => (n.proc?.pid === undefined ? [] : [n.proc.pid]));
  }

  kill(name: string): void {
    const n = this.#node(name);
    n.proc?.kill('SIGKILL');
    n.proc = undefined;
  }

  /** Shuts a server down cleanly (SIGTERM: its stores flushed), returning once it has exited. */
  async shutDown(name: string): Promise<void> {
    const n = this.#node(name);
    const p = n.proc;
    n.proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }

  async restart(name: string): Promise<void> {
    const n = this.#node(name);
    this.#spawn(n);
    await waitForPort(n.port);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#nodes.map(async (n) => {
      const p = n.proc;
      n.proc = undefined;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    }));
  }

  #node(name: string): Node {
    const n = this.#nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  #spawn(n: Node): void {
    n.proc = spawn(NATS_SERVER!, ['-c', n.conf], { stdio: 'ignore' });
  }
}

async function waitForPort(port: number): Promise<void> {
  await waitFor(`nats-server on ${port}`, () => new Promise<boolean | undefined>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(undefined));
  }), 20_000);
}
