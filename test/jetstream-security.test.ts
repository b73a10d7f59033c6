import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDaemon, tempDir, waitFor, type RunningDaemon } from './helpers/daemon.js';
import { NatsCluster, skipWithoutNats } from './helpers/nats-cluster.js';
import { dropGenerated, writeClusterConf, type Topology } from './helpers/cluster-conf.js';
import type { Stats, Top } from './helpers/api-types.js';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const ROLES = ['edge', 'counter', 'merge', 'query'] as const;
const START = Date.UTC(2026, 0, 1);

/**
 * A nats-server that wants TLS and a user and password, as an operator would run it once
 * it is reachable from more than one host; and settings that differ from the cluster's.
 */
describe('a cluster on a NATS server with TLS and logins', { skip: skipWithoutNats || (hasOpenssl ? false : 'openssl is not installed') }, () => {
  const daemons = new Set<RunningDaemon>();
  let nats: NatsCluster;
  let dir: string;
  before(async () => {
    dir = tempDir('logflow-nats-tls-');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { cwd: dir, stdio: 'pipe' });
    // The shipped accounts: a user per role, with its passwords from the environment.
    for (const role of ROLES) process.env[`LOGFLOW_${role.toUpperCase()}_PASSWORD`] = `${role}-s3cret`;
    process.env.LOGFLOW_ADMIN_PASSWORD = 'admin-s3cret';
    mkdirSync(path.join(dir, 'nats'), { recursive: true });
    copyFileSync('conf/cluster/nats-accounts.conf', path.join(dir, 'nats', 'nats-accounts.conf'));
    nats = await NatsCluster.start(path.join(dir, 'nats'), 1, {
      extra: [
        `tls { cert_file: "${path.join(dir, 'cert.pem')}", key_file: "${path.join(dir, 'key.pem')}" }`,
        // (nats-server includes relative to its configuration file: a copy beside it.)
        'include "nats-accounts.conf"',
      ],
      connect: { tls: { ca: readFileSync(path.join(dir, 'cert.pem'), 'utf8') }, user: 'admin', pass: 'admin-s3cret' },
    });
    process.env.NATS_SERVERS = nats.servers;
  });
  after(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
    await nats?.stop();
  });
  const run = async (conf: string, name: string) => {
    const d = await startDaemon(dir, ['--conf-file', conf, '--name', name], 30_000);
    daemons.add(d);
    return d;
  };
  /** Each role logs in as itself (its password from the environment), the CA from a file. */
  const login = (role: (typeof ROLES)[number]) => ({ user: role, password: `\${LOGFLOW_${role.toUpperCase()}_PASSWORD}`, 'tls.ca': 'cert.pem' });

  test('the shipped accounts over TLS, a user per role (passwords from the environment): every line counted once; an edge\'s login cannot forge a partial or purge a stream', async () => {
    const t: Topology = { tag: 'tls', partitions: 2, shards: 2, time: 'processing', nats: login, shippedNames: true };
    const conf = writeClusterConf(dir, t);
    const fromS = Math.floor(Date.now() / 1000) - 5;
    const [query] = await Promise.all(['query', 'merge', 'counter', 'edge1'].map((n) => run(conf, n)));
    const expected = await dropGenerated(dir, 'tls/edge1', 'a.log', { lines: 20_000, urls: 200, seed: 1, startMs: START, spanSeconds: 60 });
    const top = await waitFor('every line', async () => {
      const { body } = await query!.get<Top>(`/api/top?n=1000&from=${fromS}&to=${fromS + 600}`);
      return body.total >= expected.total ? body : undefined;
    }, 60_000);
    assert.equal(top.total, expected.total);
    assert.deepEqual(new Map(top.urls.map((u) => [u.url, u.count])), expected.counts);
    // The counters shown are as of the last window every shard has closed: a moment behind the history.
    let st: Stats | undefined;
    await waitFor('the counters of every line', async () => ((st = (await query!.get<Stats>('/api/stats')).body).eventsIn >= expected.lines ? true : undefined), 30_000)
      .catch((err: Error) => assert.fail(`${err.message}: ${JSON.stringify(st)}`));
    assert.equal(st!.eventsIn, expected.lines);
    assert.equal(st!.historyOnlyEvents, 0, 'no line late');
    // What the review could do from anywhere that reaches NATS, as an edge now.
    const edge = await connect({ servers: nats.servers.split(','), tls: { ca: readFileSync(path.join(dir, 'cert.pem'), 'utf8') }, user: 'edge', pass: 'edge-s3cret' });
    try {
      await assert.rejects(jetstream(edge).publish('logflow.counts.0', Buffer.from('forged')), /[Pp]ermission|timeout|no responders/);
      const jsm = await jetstreamManager(edge);
      await assert.rejects(jsm.streams.purge('LOGFLOW_COUNTS'), /[Pp]ermission|timeout|no responders/);
      await assert.rejects(jsm.streams.delete('LOGFLOW_EVENTS'), /[Pp]ermission|timeout|no responders/);
    } finally {
      await edge.close();
    }
  });

  test('a wrong password or no TLS: the component says why it cannot connect, and counts nothing', async () => {
    const t: Topology = { tag: 'deny', partitions: 1, shards: 1, time: 'processing', nats: (role) => ({ ...login(role), password: 'wrong' }) };
    const counter = await run(writeClusterConf(dir, t), 'counter');
    await waitFor('the authorization error', () => (counter.logs.some((l) => /counter tick failed/.test(l) && /[Aa]uthorization/.test(l)) ? true : undefined), 60_000);
    const plain: Topology = { tag: 'plain', partitions: 1, shards: 1, time: 'processing', nats: (role) => ({ user: role, password: `\${LOGFLOW_${role.toUpperCase()}_PASSWORD}` }) };
    const merge = await run(writeClusterConf(dir, plain), 'merge');
    await waitFor('the TLS error', () => (merge.logs.some((l) => /merge worker tick failed/.test(l) && /certificate/.test(l)) ? true : undefined), 60_000);
  });

  test('settings that differ from the cluster\'s, or from an existing stream\'s, stop the component with an error naming the key', async () => {
    const base: Topology = { tag: 'agree', partitions: 2, shards: 2, time: 'processing', nats: () => ({ user: 'admin', password: '${LOGFLOW_ADMIN_PASSWORD}', 'tls.ca': 'cert.pem' }) };
    writeClusterConf(dir, base);
    const [counter, merge] = await Promise.all(['counter', 'merge'].map((n) => run('agree.conf', n)));
    // (Each records the cluster's settings, then waits for the stream of the tier before it;
    // the merge worker finds its input already there when the counter, started with it, made
    // the counts stream first: on a quiet box it mostly does.)
    const recorded = (d: RunningDaemon) => d.logs.some((l) => l.includes('waiting for the stream') || l.includes('merge worker connected'));
    await waitFor('both past recording the settings', () => (recorded(counter!) && recorded(merge!) ? true : undefined), 60_000);
    // The same file, changed: an edge with 4 partitions where the counters run with 2 (before,
    // it put events in partitions no counter read), and a merge worker that wants its results
    // stream limited where the first one made it without.
    writeClusterConf(dir, { ...base, partitions: 4, merge: { resultsMaxMsgs: 1000 } });
    const [edge, merge2] = await Promise.all(['edge1', 'merge'].map((n) => run('agree.conf', n)));
    const error = (d: RunningDaemon, text: string) => waitFor(text, () => (d.logs.some((l) => l.includes('"level":50') && l.includes(text)) ? true : undefined), 60_000);
    await error(edge!, 'edge1.sinks.k1.partitions = 4, but the cluster runs with partitions 2');
    await error(merge2!, 'merge.jobs.j1.partitions = 4, but the cluster runs with partitions 2');
    writeClusterConf(dir, { ...base, merge: { resultsMaxMsgs: 1000 } });
    const merge3 = await run('agree.conf', 'merge');
    await error(merge3, 'merge.jobs.j1.resultsMaxMsgs = 1000, but stream RS_AGREE has max msgs -1');
    // A query node whose format has no client, where the counters count visitors: its window
    // would count 0 visitors where a single process answers null.
    writeClusterConf(dir, { ...base, query: { logFormat: '%U %>s %b' } });
    const query = await run('agree.conf', 'query');
    await error(query, 'query.jobs.j1.logFormat = no visitors (no client field), but the cluster runs with visitorDimensions visitors of url status');
  });
});
