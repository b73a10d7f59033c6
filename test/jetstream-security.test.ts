import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDaemon, tempDir, waitFor, type RunningDaemon } from './helpers/daemon.js';
import { NatsCluster, skipWithoutNats } from './helpers/nats-cluster.js';
import { dropGenerated, writeClusterConf, type Topology } from './helpers/cluster-conf.js';
import type { Stats, Top } from './helpers/api-types.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
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
    const users = [{ user: 'logflow', password: 's3cret-pass' }];
    nats = await NatsCluster.start(path.join(dir, 'nats'), 1, {
      extra: [
        `tls { cert_file: "${path.join(dir, 'cert.pem')}", key_file: "${path.join(dir, 'key.pem')}" }`,
        `authorization { users: [${users.map((u) => `{ user: ${u.user}, password: "${u.password}" }`).join(', ')}] }`,
      ],
      connect: { tls: { ca: readFileSync(path.join(dir, 'cert.pem'), 'utf8') }, user: 'logflow', pass: 's3cret-pass' },
    });
    process.env.NATS_SERVERS = nats.servers;
    process.env.NATS_USER = 'logflow';
    process.env.NATS_PASSWORD = 's3cret-pass';
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
  const login = { user: '${NATS_USER}', password: '${NATS_PASSWORD}', 'tls.ca': 'cert.pem' };

  test('user and password over TLS (the CA from a file, the secrets from the environment): every line counted once', async () => {
    const t: Topology = { tag: 'tls', partitions: 2, shards: 2, time: 'processing', nats: login };
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
    assert.equal((await query!.get<Stats>('/api/stats')).body.eventsIn, expected.lines);
  });

  test('a wrong password or no TLS: the component says why it cannot connect, and counts nothing', async () => {
    const t: Topology = { tag: 'deny', partitions: 1, shards: 1, time: 'processing', nats: { ...login, password: 'wrong' } };
    const counter = await run(writeClusterConf(dir, t), 'counter');
    await waitFor('the authorization error', () => (counter.logs.some((l) => /counter tick failed/.test(l) && /[Aa]uthorization/.test(l)) ? true : undefined), 20_000);
    const plain = { tag: 'plain', partitions: 1, shards: 1, time: 'processing', nats: { user: '${NATS_USER}', password: '${NATS_PASSWORD}' } } as const;
    const merge = await run(writeClusterConf(dir, plain), 'merge');
    await waitFor('the TLS error', () => (merge.logs.some((l) => /merge worker tick failed/.test(l) && /certificate/.test(l)) ? true : undefined), 20_000);
  });

  test('settings that differ from the cluster\'s, or from an existing stream\'s, stop the component with an error naming the key', async () => {
    const base: Topology = { tag: 'agree', partitions: 2, shards: 2, time: 'processing', nats: login };
    writeClusterConf(dir, base);
    const [counter, merge] = await Promise.all(['counter', 'merge'].map((n) => run('agree.conf', n)));
    // (Each records the cluster's settings, then waits for the stream of the tier before it.)
    await waitFor('both waiting for their input', () => (counter!.logs.some((l) => l.includes('waiting for the stream')) && merge!.logs.some((l) => l.includes('waiting for the stream')) ? true : undefined), 20_000);
    // The same file, changed: an edge with 4 partitions where the counters run with 2 (before,
    // it put events in partitions no counter read), and a merge worker that wants its results
    // stream limited where the first one made it without.
    writeClusterConf(dir, { ...base, partitions: 4, merge: { resultsMaxMsgs: 1000 } });
    const [edge, merge2] = await Promise.all(['edge1', 'merge'].map((n) => run('agree.conf', n)));
    const error = (d: RunningDaemon, text: string) => waitFor(text, () => (d.logs.some((l) => l.includes('"level":50') && l.includes(text)) ? true : undefined), 20_000);
    await error(edge!, 'edge1.sinks.k1.partitions = 4, but the cluster runs with partitions 2');
    await error(merge2!, 'merge.jobs.j1.partitions = 4, but the cluster runs with partitions 2');
    writeClusterConf(dir, { ...base, merge: { resultsMaxMsgs: 1000 } });
    const merge3 = await run('agree.conf', 'merge');
    await error(merge3, 'merge.jobs.j1.resultsMaxMsgs = 1000, but stream RS_AGREE has max msgs -1');
  });
});
