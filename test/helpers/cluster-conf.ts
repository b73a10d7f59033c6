import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeLog } from '../../scripts/access-log-generator.js';
import { expectedCounts, type Expected } from './expected-counts.js';

/**
 * One configuration file for a whole cluster (edges, counters, merge workers, query nodes),
 * `${NATS_SERVERS}` from the environment. `tag` names every stream and bucket, so scenarios
 * can share one NATS server without seeing each other.
 */
export interface Topology {
  readonly tag: string;
  readonly edges?: readonly string[];
  readonly queries?: readonly string[];
  readonly partitions: number;
  readonly shards: number;
  readonly time: 'processing' | 'event';
  readonly channel?: 'file' | 'memory';
  /** The edges' source: a spooling directory (`<tag>/<edge>/spool`, the default) or TAILDIR following `<tag>/<edge>/logs/access.log`. */
  readonly source?: 'spooldir' | 'taildir';
  readonly batchInterval?: number;
  readonly windowDuration?: number;
  readonly slideDuration?: number;
  readonly replicas?: number;
  /** Extra keys, without their prefix (`maxMsgs = 1000`). */
  readonly sink?: Readonly<Record<string, string | number>>;
  /** Extra keys of the edges' source. */
  readonly edge?: Readonly<Record<string, string | number>>;
  readonly counter?: Readonly<Record<string, string | number>>;
  readonly merge?: Readonly<Record<string, string | number>>;
  readonly query?: Readonly<Record<string, string | number>>;
  /** Extra keys of one query node, by its name (`{ query2: { database: 'postgres://...' } }`). */
  readonly queryNamed?: Readonly<Record<string, Readonly<Record<string, string | number>>>>;
  /** Counters and merge workers with HTTP (/api/stats, /metrics) on a free port. */
  readonly http?: boolean;
  /** Keys every component gets (the NATS login, TLS files), or per role. */
  readonly nats?: Readonly<Record<string, string | number>> | ((role: 'edge' | 'counter' | 'merge' | 'query') => Readonly<Record<string, string | number>>);
  /** The shipped names (LOGFLOW_EVENTS, logflow.events, ...) instead of the tag's. */
  readonly shippedNames?: boolean;
}

/** The names of a topology's streams and buckets. */
export function clusterNames(tag: string) {
  const T = tag.toUpperCase();
  const tg = tag.toLowerCase();
  return {
    events: `EV_${T}`, eventsSubject: `ev.${tg}`, counts: `CT_${T}`, countsSubject: `ct.${tg}`, results: `RS_${T}`, resultsSubject: `rs.${tg}`,
    leases: `LEASES_${T}`, progress: `PROGRESS_${T}`, settings: `CLUSTER_${T}`,
  };
}

const SHIPPED = {
  events: 'LOGFLOW_EVENTS', eventsSubject: 'logflow.events', counts: 'LOGFLOW_COUNTS', countsSubject: 'logflow.counts', results: 'LOGFLOW_RESULTS', resultsSubject: 'logflow.results',
  leases: 'LOGFLOW_LEASES', progress: 'LOGFLOW_PROGRESS', settings: 'LOGFLOW_CLUSTER',
};

export function clusterConf(t: Topology): string {
  const names = t.shippedNames ? SHIPPED : clusterNames(t.tag);
  const nats = (role: 'edge' | 'counter' | 'merge' | 'query') => (typeof t.nats === 'function' ? t.nats(role) : t.nats);
  const keys = (prefix: string, values: Record<string, string | number | undefined>) =>
    Object.entries(values).filter(([, v]) => v !== undefined).map(([k, v]) => `${prefix}.${k} = ${v}`).join('\n') + '\n';
  const bi = t.batchInterval ?? 1;
  const replicas = t.replicas ?? 1;
  const edge = (name: string) =>
    `${name}.sources = r1\n${name}.channels = c1\n${name}.sinks = k1\n` +
    keys(`${name}.sources.r1`, t.source === 'taildir'
      ? { type: 'TAILDIR', filegroups: 'f1', 'filegroups.f1': `${t.tag}/${name}/logs/access\\.log`, positionFile: `${t.tag}/${name}/taildir_position.json`, pollDelay: 100, batchSize: 1000, channels: 'c1' }
      : { type: 'spooldir', spoolDir: `${t.tag}/${name}/spool`, pollDelay: 100, batchSize: 1000, channels: 'c1' }) +
    keys(`${name}.sources.r1`, t.edge ?? {}) +
    keys(`${name}.channels.c1`, t.channel === 'file'
      ? { type: 'file', checkpointDir: `${t.tag}/${name}/channel/checkpoint`, dataDirs: `${t.tag}/${name}/channel/data`, capacity: 100000, transactionCapacity: 1000 }
      : { type: 'memory', capacity: 100000, transactionCapacity: 1000 }) +
    keys(`${name}.sinks.k1`, {
      type: 'jetstream', channel: 'c1', servers: '${NATS_SERVERS}', stream: names.events, subject: names.eventsSubject, partitions: t.partitions,
      replicas, settingsBucket: names.settings, ...nats('edge'), ...t.sink,
    });
  const common = { servers: '${NATS_SERVERS}', replicas, settingsBucket: names.settings };
  const counter =
    'counter.jobs = j1\n' +
    keys('counter.jobs.j1', {
      type: 'url-count-partial', ...common, ...nats('counter'), input: names.events, inputSubject: names.eventsSubject, output: names.counts, outputSubject: names.countsSubject,
      leaseBucket: names.leases, progressBucket: names.progress, partitions: t.partitions, shards: t.shards, time: t.time, batchInterval: bi, leaseTimeout: 3, ...t.counter,
    }) +
    (t.http ? keys('counter.http', { bind: '127.0.0.1', port: 0 }) : '');
  const merge =
    'merge.jobs = j1\n' +
    keys('merge.jobs.j1', {
      type: 'url-count-merge', ...common, ...nats('merge'), input: names.counts, inputSubject: names.countsSubject, output: names.results, outputSubject: names.resultsSubject,
      leaseBucket: names.leases, partitions: t.partitions, shards: t.shards, time: t.time, batchInterval: bi, windowDuration: t.windowDuration ?? 60,
      slideDuration: t.slideDuration ?? bi, leaseTimeout: 3, idleTimeout: 5, ...t.merge,
    }) +
    (t.http ? keys('merge.http', { bind: '127.0.0.1', port: 0 }) : '');
  const query = (name: string) =>
    `${name}.jobs = j1\n` +
    keys(`${name}.jobs.j1`, {
      type: 'url-window-count', input: 'jetstream', ...common, ...nats('query'), stream: names.results, subject: names.resultsSubject, shards: t.shards, time: t.time, batchInterval: bi,
      windowDuration: t.windowDuration ?? 60, slideDuration: t.slideDuration ?? bi, checkpointDir: `${t.tag}/${name}/checkpoint`, database: `${t.tag}/${name}/results.db`, ...t.query,
      ...t.queryNamed?.[name],
    }) +
    keys(`${name}.http`, { bind: '127.0.0.1', port: 0 });
  // Combined agents, one process for several roles (fewer processes to start on a busy box):
  // `node` runs a counter, a merge worker and the query node; `qm` the merge worker and the query node.
  const combined = (name: string, withCounter: boolean) =>
    `${name}.jobs = ${withCounter ? 'c ' : ''}m q\n` +
    (withCounter ? counter.replace(/^counter\.jobs = j1\n/, '').replaceAll('counter.jobs.j1.', `${name}.jobs.c.`).replace(/^counter\.http\..*\n/gm, '') : '') +
    merge.replace(/^merge\.jobs = j1\n/, '').replaceAll('merge.jobs.j1.', `${name}.jobs.m.`).replace(/^merge\.http\..*\n/gm, '') +
    query(name).replace(/^[^\n]*\.jobs = j1\n/, '').replaceAll(`${name}.jobs.j1.`, `${name}.jobs.q.`);
  return [...(t.edges ?? ['edge1']).map(edge), counter, merge, ...(t.queries ?? ['query']).map(query), combined('node', true), combined('qm', false)].join('\n');
}

/** Writes the configuration and makes each edge's spool directory; returns the file's name. */
export function writeClusterConf(dir: string, t: Topology): string {
  for (const e of t.edges ?? ['edge1']) mkdirSync(path.join(dir, t.tag, e, t.source === 'taildir' ? 'logs' : 'spool'), { recursive: true });
  const file = `${t.tag}.conf`;
  writeFileSync(path.join(dir, file), clusterConf(t));
  return file;
}

/**
 * Generates a log, counts it the simple way, renames it into the edge's spool (`<dir>/<tag>/<edge>/spool`,
 * `edge` given as `tag/edge`); adds its answer to `into`.
 */
export async function dropGenerated(dir: string, edge: string, name: string, options: Parameters<typeof writeLog>[1], into?: Expected): Promise<Expected> {
  const staged = path.join(dir, `${edge.replace('/', '-')}-${name}.staged`);
  await writeLog(staged, options);
  return dropStaged(dir, edge, name, staged, into);
}

/** Counts a staged file the simple way and renames it into the edge's spool. */
export function dropStaged(dir: string, edge: string, name: string, staged: string, into?: Expected): Expected {
  const e = expectedCounts(staged);
  if (into) {
    for (const [u, c] of e.counts) into.counts.set(u, (into.counts.get(u) ?? 0) + c);
    into.total += e.total;
    into.parseErrors += e.parseErrors;
    into.lines += e.lines;
  }
  renameSync(staged, path.join(dir, ...edge.split('/'), 'spool', name));
  return e;
}

export function noneExpected(): Expected {
  return { counts: new Map(), total: 0, parseErrors: 0, lines: 0 };
}
