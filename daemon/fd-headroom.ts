import { readFileSync } from 'node:fs';
import type { AgentConfig } from './agent-config.js';
import type { Logger } from './log.js';
import { fdHeadroomLow } from './telemetry/index.js';

/**
 * Descriptors the daemon needs besides its connections: the file being read, SQLite
 * databases and their WAL files, checkpoint and write-ahead-log segments, the spool watch,
 * the sinks' connections, threads' pipes, Node's own. Measured at about 60 at rest; the
 * rest is room for bursts (a checkpoint while a file is read, a sink reconnecting).
 */
export const FD_RESERVE = 256;

/**
 * Each connection cap of the agent with its key: every connection open is a descriptor.
 * Whatever component has a `maxConnections` (the job's receiver, an avro source) counts.
 */
export function connectionCaps(config: AgentConfig): { key: string; value: number }[] {
  const a = config.agent;
  const caps = config.http ? [{ key: `${a}.http.maxConnections`, value: config.http.maxConnections }] : [];
  for (const [kind, list] of [['sources', config.sources], ['sinks', config.sinks], ['jobs', config.jobs]] as const) {
    for (const c of list as readonly { name: string; maxConnections?: unknown }[]) {
      if (typeof c.maxConnections === 'number') caps.push({ key: `${a}.${kind}.${c.name}.maxConnections`, value: c.maxConnections });
    }
  }
  return caps;
}

/** The soft open-file limit (`ulimit -n`) from /proc/self/limits; undefined where there is none (not Linux). */
export function openFileLimit(limits = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(limits, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft === undefined ? undefined : soft === 'unlimited' ? Infinity : Number(soft);
  } catch {
    return undefined;
  }
}

/**
 * At start: the connection caps plus `FD_RESERVE` must fit in the open-file limit (Node
 * raises the soft limit to the hard one at start; this reads what it got). If they do
 * not, a flood of connections could take the last descriptors before its cap refuses
 * more, and the pipeline's own opens would fail on EMFILE: one warning that names the keys
 * and both ways out. The daemon runs on (an EMFILE is an error it recovers from, not a crash).
 */
export function checkFdHeadroom(config: AgentConfig, log: Logger, limit = openFileLimit()): void {
  if (limit === undefined || !Number.isFinite(limit)) return;
  const caps = connectionCaps(config);
  const needed = caps.reduce((n, c) => n + c.value, FD_RESERVE);
  if (needed <= limit) return;
  fdHeadroomLow.emit(log, { openFileLimit: limit, needed, caps: Object.fromEntries(caps.map((c) => [c.key, c.value])), reserve: FD_RESERVE });
}
