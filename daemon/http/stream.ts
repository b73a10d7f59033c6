import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import type { FileView, HttpDeps } from './deps.js';
import type { ApiStats } from '../telemetry/stats.js';
import { sendError } from './errors.js';
import { noQuery } from './params.js';
import { streamResultsFailed } from '../telemetry/index.js';

/**
 * `GET /api/stream`: Server-Sent Events for the dashboard. One timer, shared by every
 * client and running only while one is connected, polls what HttpDeps offer (stats(),
 * files(), the results in SQLite) and pushes each part only when it changed, so a window
 * that slides once a second costs one `top` message a second whatever the number of
 * clients. Built from HttpDeps alone: it works wherever the server runs.
 */
export interface StreamOptions {
  /** How often the shared timer looks for changes. */
  readonly pollMs?: number;
  /** URLs per `top` message. */
  readonly topN?: number;
  /** Connections served at once; more get a 503. */
  readonly maxClients?: number;
}

/** Finished files sent in each `files` message (every pending or in-progress one is sent). */
const RECENT_FINISHED = 50;
/** The span the events/s figure is averaged over. */
const RATE_SPAN_MS = 5_000;
/** A comment line now and then keeps proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

export type StreamStats = ApiStats & { eventsPerSecond: number | null };

export const streamRoutes: FastifyPluginAsync<HttpDeps & StreamOptions> = async (app, deps) => {
  const opts: StreamOptions = deps;
  const pollMs = opts.pollMs ?? 250;
  const topN = opts.topN ?? 20;
  const maxClients = opts.maxClients ?? 256;
  const clients = new Set<ServerResponse>();
  /** The last message of each kind, as sent: new clients get them at once. */
  const last = new Map<string, string>();
  const samples: { atMs: number; eventsIn: number }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let sinceHeartbeat = 0;

  const eventsPerSecond = (stats: ApiStats): number | null => {
    const now = Date.now();
    samples.push({ atMs: now, eventsIn: stats.eventsIn });
    while (samples.length > 2 && now - samples[1]!.atMs >= RATE_SPAN_MS) samples.shift();
    const first = samples[0]!;
    if (now - first.atMs < 900) return null;
    return Math.max(0, Math.round(((stats.eventsIn - first.eventsIn) * 1000) / (now - first.atMs)));
  };

  const snapshot = async (): Promise<Map<string, string>> => {
    const parts = new Map<string, string>();
    const [stats, files, followed] = await Promise.all([deps.stats(), deps.files(), deps.followed()]);
    parts.set('stats', JSON.stringify({ ...stats, eventsPerSecond: eventsPerSecond(stats) } satisfies StreamStats));
    parts.set('files', JSON.stringify({ files: recentFiles(files) }));
    parts.set('followed', JSON.stringify({ files: followed.map((f) => ({ path: f.path, state: f.state, position: f.position, size: f.size, lagBytes: f.lagBytes, lines: f.lines, reason: f.reason ?? null })) }));
    if (deps.results && deps.job) {
      const { window, items } = await deps.results.latestTop(topN, deps.job.instance);
      const urls = items.map((i) => ({ url: i.key, count: i.count }));
      parts.set('top', JSON.stringify({
        window: window ? { start: new Date(window.startMs).toISOString(), end: new Date(window.endMs).toISOString() } : null,
        total: window?.total ?? 0,
        distinctUrls: window?.distinctUrls ?? 0,
        windowSeconds: deps.job.windowDurationMs / 1000,
        urls,
      }));
    }
    return parts;
  };

  const broadcast = (text: string) => {
    for (const res of clients) res.write(text);
  };

  // The pipeline's figures come from another thread: a tick still waiting for them makes
  // the next one stand down rather than pile up behind it.
  let ticking = false;
  const tick = async () => {
    if (ticking) return;
    ticking = true;
    let parts: Map<string, string>;
    try {
      parts = await snapshot();
    } catch (err) {
      // A busy or missing database must not end the stream; the next tick tries again.
      streamResultsFailed.emit(app.log, { err });
      return;
    } finally {
      ticking = false;
    }
    if (timer === undefined) return;
    let sent = false;
    for (const [event, data] of parts) {
      if (last.get(event) === data) continue;
      last.set(event, data);
      broadcast(`event: ${event}\ndata: ${data}\n\n`);
      sent = true;
    }
    sinceHeartbeat = sent ? 0 : sinceHeartbeat + pollMs;
    if (sinceHeartbeat >= HEARTBEAT_MS) {
      broadcast(': heartbeat\n\n');
      sinceHeartbeat = 0;
    }
  };

  const stopTimer = () => {
    clearInterval(timer);
    timer = undefined;
    last.clear();
    samples.length = 0;
  };

  app.get('/api/stream', {
    schema: {
      summary: 'Server-Sent Events: `top` (the newest window), `stats` (with eventsPerSecond), `files` and `followed`, each sent when it changes',
      querystring: noQuery,
    },
  }, async (_req, reply) => {
    if (clients.size >= maxClients) {
      return sendError(reply, 'LF_HTTP_TOO_MANY_STREAMS', `at most ${maxClients} streams at once`);
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and friends would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    for (const [event, data] of last) res.write(`event: ${event}\ndata: ${data}\n\n`);
    clients.add(res);
    if (timer === undefined) {
      // The first tick's messages are all new, so they reach this client too.
      timer = setInterval(() => void tick(), pollMs);
      timer.unref();
      void tick();
    }
    // The response's close, not the request's: a GET's request closes as soon as it is read.
    res.on('close', () => {
      clients.delete(res);
      if (clients.size === 0) stopTimer();
    });
  });

  // Before the server closes: open streams would otherwise keep close() waiting.
  app.addHook('preClose', async () => {
    stopTimer();
    for (const res of clients) res.end();
    clients.clear();
  });
};

/** Every pending and in-progress file, and the most recently finished ones. */
function recentFiles(files: FileView[]): object[] {
  const active = files.filter((f) => f.state === 'pending' || f.state === 'reading');
  const finished = files
    .filter((f) => f.state === 'completed' || f.state === 'failed' || f.state === 'duplicate')
    .sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0))
    .slice(0, RECENT_FINISHED);
  return [...active, ...finished].map((f) => ({
    name: f.name,
    state: f.state,
    size: f.size,
    bytesRead: f.bytesRead,
    lines: f.lines,
    parseErrors: f.parseErrors ?? null,
    finishedAt: f.finishedAt === undefined ? null : new Date(f.finishedAt).toISOString(),
    reason: f.reason ?? null,
    warning: f.warning ?? null,
    writtenAfterFinish: f.writtenAfterFinish ?? null,
  }));
}
