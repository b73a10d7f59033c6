import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Agent } from '../daemon/agent.js';
import { loadAgentConfig, parseAgentConfig } from '../daemon/agent-config.js';
import { testLogger } from './helpers/logger.js';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './helpers/daemon.js';
import { configErrorOf } from './helpers/config-error.js';
import { ofType } from '../daemon/components.js';

const ENV = { NATS_SERVERS: 'nats://10.0.0.1:4222,nats://10.0.0.2:4222', LOGFLOW_DIR: '/srv/logflow', HTTP_PORT: '9090', NATS_USER: 'logflow', NATS_PASSWORD: 'secret' };
const parse = (text: string, agent = 'a1', env: NodeJS.ProcessEnv = ENV) => parseAgentConfig(text, 'test.conf', agent, '/base', env);

const EDGE = `
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = spooldir
a1.sources.r1.spoolDir = \${LOGFLOW_DIR}/spool
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = jetstream
a1.sinks.k1.channel = c1
a1.sinks.k1.servers = \${NATS_SERVERS}
`;

describe('environment variables in values (Flume EnvVarResolverProperties)', () => {
  test('${NAME} is replaced in the named agent\'s values', () => {
    const c = parse(EDGE);
    assert.equal(ofType(c.sources, 'spooldir')[0]!.spoolDir, '/srv/logflow/spool');
    assert.deepEqual(ofType(c.sinks, 'jetstream')[0]!.nats.servers, ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222']);
  });

  test('an unset variable stops start-up naming the file, line, key and variable', () => {
    const err = configErrorOf((t) => parse(t, 'a1', { NATS_SERVERS: 'nats://h:1' }), EDGE);
    assert.match(err.message, /^test\.conf:6: a1\.sources\.r1\.spoolDir names the environment variable LOGFLOW_DIR, which is not set$/);
  });

  test('${NAME:-default} takes the default when NAME is unset or empty; a value that comes out empty leaves its key at its default', () => {
    const http = 'a1.http.authToken = ${TOKEN:-}\na1.http.allowedHosts = ${HOSTS:-}\na1.http.port = ${PORT:-9090}\n';
    const unset = parse(EDGE + http, 'a1', { NATS_SERVERS: 'nats://h:1', LOGFLOW_DIR: '/d' }).http!;
    assert.deepEqual([unset.authToken, unset.allowedHosts, unset.port], [undefined, ['localhost', '127.0.0.1', '[::1]'], 9090]);
    const set = parse(EDGE + http, 'a1', { NATS_SERVERS: 'nats://h:1', LOGFLOW_DIR: '/d', TOKEN: 'a-token-of-16-chars', HOSTS: 'logs.example.com', PORT: '' }).http!;
    assert.deepEqual([set.authToken, set.allowedHosts[0], set.port], ['a-token-of-16-chars', 'logs.example.com', 9090]);
    // A short token from the environment is refused as one written in the file is.
    assert.match(configErrorOf((t) => parse(t, 'a1', { NATS_SERVERS: 'nats://h:1', LOGFLOW_DIR: '/d', TOKEN: 'short' }), EDGE + http).message, /a1\.http\.authToken: must be at least 16 characters/);
  });

  test('another agent\'s variables are not resolved (they may be set elsewhere)', () => {
    const c = parse(`${EDGE}\nother.sinks.k1.servers = \${ONLY_ON_OTHER_HOSTS}\n`);
    assert.equal(ofType(c.sinks, 'jetstream').length, 1);
  });
});

describe('cluster components', () => {
  test('the jetstream sink\'s defaults: an unbounded stream that refuses rather than drops, a 2-minute duplicate window', () => {
    const k = ofType(parse(EDGE).sinks, 'jetstream')[0]!;
    assert.deepEqual({ ...k, nats: undefined }, {
      name: 'k1', type: 'jetstream', prefix: 'a1.sinks.k1', channel: 'c1', nats: undefined, partitions: 8, partitionExtent: 4 * 1024 * 1024, replicas: 1, batchSize: 1000, settingsBucket: 'LOGFLOW_CLUSTER',
      stream: {
        name: 'LOGFLOW_EVENTS', subject: 'logflow.events', replicas: 1,
        limits: { maxAgeMs: 0, maxBytes: -1, maxMsgs: -1, duplicateWindowMs: 120_000, discard: 'new' },
        // Only the keys set are checked against an existing stream (and named when it differs).
        keys: { name: 'a1.sinks.k1.stream', subject: 'a1.sinks.k1.subject' },
      },
    });
  });

  test('stream limits and the duplicate window are keys of the sink, and the ones set are the ones checked', () => {
    const k = ofType(parse(`${EDGE}a1.sinks.k1.maxMsgs = 1000\na1.sinks.k1.maxAge = 3600\na1.sinks.k1.duplicateWindow = 3\na1.sinks.k1.discard = old\na1.sinks.k1.replicas = 3\n`).sinks, 'jetstream')[0]!;
    assert.deepEqual(k.stream.limits, { maxAgeMs: 3_600_000, maxBytes: -1, maxMsgs: 1000, duplicateWindowMs: 3000, discard: 'old' });
    assert.deepEqual(Object.keys(k.stream.keys).sort(), ['discard', 'duplicateWindowMs', 'maxAgeMs', 'maxMsgs', 'name', 'replicas', 'subject']);
    assert.equal(k.stream.keys.maxMsgs, 'a1.sinks.k1.maxMsgs');
    assert.match(configErrorOf(parse, `${EDGE}a1.sinks.k1.maxAge = 2\na1.sinks.k1.duplicateWindow = 3\n`).message, /a1\.sinks\.k1\.duplicateWindow.*cannot be longer than maxAge/);
    assert.match(configErrorOf(parse, `${EDGE}a1.sinks.k1.discard = sometimes\n`).message, /a1\.sinks\.k1\.discard/);
  });

  test('a bad server list or subject names its key and line', () => {
    assert.match(configErrorOf(parse, EDGE.replace('${NATS_SERVERS}', 'http://x')).message, /test\.conf:11: a1\.sinks\.k1\.servers must be a comma-separated list of nats:\/\/host:port/);
    assert.match(configErrorOf(parse, `${EDGE}a1.sinks.k1.subject = logflow.>\n`).message, /a1\.sinks\.k1\.subject must be a NATS subject/);
  });

  test('a jetstream sink\'s batch-size past its channel\'s transactionCapacity stops start-up, as an avro sink\'s does', () => {
    const config = parse(EDGE);
    assert.throws(() => new Agent(config, testLogger), /a1\.sinks\.k1\.batch-size \(1000\) exceeds a1\.channels\.c1\.transactionCapacity \(100\)/);
  });

  test('a counter and a query node', () => {
    const c = parse(`
a1.jobs = count
a1.jobs.count.type = url-count-partial
a1.jobs.count.servers = \${NATS_SERVERS}
a1.jobs.count.time = event
`);
    const counter = ofType(c.jobs, 'url-count-partial')[0]!;
    assert.equal(counter.type, 'url-count-partial');
    assert.equal(counter.output.name, 'LOGFLOW_COUNTS');
    assert.equal(counter.shards, 4);
    assert.equal(counter.leaseTimeoutMs, 5000);
    assert.equal(ofType(c.jobs, 'url-window-count').length, 0);
    const m = ofType(parse(`
a1.jobs = merge
a1.jobs.merge.type = url-count-merge
a1.jobs.merge.servers = \${NATS_SERVERS}
`).jobs, 'url-count-merge')[0]!;
    assert.deepEqual([m.input.name, m.output.name, m.output.limits.maxAgeMs, m.shards, m.topN, m.idleTimeoutMs], ['LOGFLOW_COUNTS', 'LOGFLOW_RESULTS', 7 * 24 * 3600_000, 4, 1000, 10_000]);
    const q = ofType(parse(`
a1.jobs = j1
a1.jobs.j1.type = url-window-count
a1.jobs.j1.input = jetstream
a1.jobs.j1.servers = \${NATS_SERVERS}
`).jobs, 'url-window-count')[0]!;
    assert.equal(q.input, 'jetstream');
    assert.equal(q.jetstream!.stream.name, 'LOGFLOW_RESULTS');
    assert.equal(q.port, 0);
    // A query node's batches are closed by the merge workers: their watermark is theirs.
    assert.match(configErrorOf(parse, 'a1.jobs = j1\na1.jobs.j1.type = url-window-count\na1.jobs.j1.input = jetstream\na1.jobs.j1.servers = nats://h:1\na1.jobs.j1.watermark = 60\n').message, /a1\.jobs\.j1\.watermark: has no effect with input = jetstream.*url-count-merge/);
    // The partials carry the dimensions: a query node counts by any, as a single process (default url status).
    assert.deepEqual(q.dimensions.map((d) => d.name), ['url', 'status']);
    const query = 'a1.jobs = j1\na1.jobs.j1.type = url-window-count\na1.jobs.j1.input = jetstream\na1.jobs.j1.servers = nats://h:1\n';
    assert.deepEqual(ofType(parse(`${query}a1.jobs.j1.dimensions = url status client\n`).jobs, 'url-window-count')[0]!.dimensions.map((d) => d.name), ['url', 'status', 'client']);
    // A counter counts by the job's dimensions (default url status); one its format lacks stops start-up naming the key.
    assert.deepEqual(counter.dimensions.map((d) => d.name), ['url', 'status']);
    const countBy = (extra: string) => `a1.jobs = c\na1.jobs.c.type = url-count-partial\na1.jobs.c.servers = nats://h:1\n${extra}`;
    assert.deepEqual(ofType(parse(countBy('a1.jobs.c.dimensions = status agent\n')).jobs, 'url-count-partial')[0]!.dimensions, [{ name: 'status', field: 1, visitors: true }, { name: 'agent', field: 4, visitors: true }]);
    assert.match(configErrorOf(parse, countBy('a1.jobs.c.logFormat = common\na1.jobs.c.dimensions = url referrer\n')).message, /a1\.jobs\.c\.dimensions: referrer: the log format "common" has no referrer field/);
  });

  test('NATS logins: user and password, token, nkey or creds file, TLS files; one login only; files read at start', () => {
    const sink = (extra: string) => ofType(parse(`${EDGE}${extra}`).sinks, 'jetstream')[0]!.nats;
    assert.deepEqual(sink('a1.sinks.k1.user = edge\na1.sinks.k1.password = secret\n'), { servers: ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222'], user: 'edge', password: 'secret' });
    assert.equal(sink('a1.sinks.k1.token = t0ken\n').token, 't0ken');
    assert.match(configErrorOf(parse, `${EDGE}a1.sinks.k1.password = secret\n`).message, /a1\.sinks\.k1\.password: needs a1\.sinks\.k1\.user/);
    assert.match(configErrorOf(parse, `${EDGE}a1.sinks.k1.user = u\na1.sinks.k1.password = p\na1.sinks.k1.token = t\n`).message, /one login only: user and token/);
    assert.match(configErrorOf(parse, `${EDGE}a1.sinks.k1.credentials = /nonexistent.creds\n`).message, /a1\.sinks\.k1\.credentials: cannot be read/);
    assert.match(configErrorOf(parse, `${EDGE}a1.sinks.k1.tls.ca = /etc/hostname\n`).message, /a1\.sinks\.k1\.tls\.ca: is not PEM/);
    assert.match(configErrorOf(parse, `${EDGE}a1.sinks.k1.nkey = /etc/hostname\n`).message, /a1\.sinks\.k1\.nkey: is not an nkey seed file/);
  });

  test('the shipped conf/cluster files load with their variables set', () => {
    const env = process.env;
    const ca = path.join(tempDir('logflow-conf-ca-'), 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    process.env = { ...env, ...ENV, NATS_CA: ca };
    try {
      assert.equal(ofType(loadAgentConfig('conf/cluster/edge.conf', 'edge').sinks, 'jetstream')[0]!.replicas, 3);
      assert.equal(ofType(loadAgentConfig('conf/cluster/counter.conf', 'counter').jobs, 'url-count-partial')[0]!.partitions, 8);
      assert.equal(ofType(loadAgentConfig('conf/cluster/merge.conf', 'merge').jobs, 'url-count-merge')[0]!.shards, 4);
      assert.equal(loadAgentConfig('conf/cluster/edge.conf', 'edge').channels[0]!.type, 'file');
      assert.deepEqual({ ...ofType(loadAgentConfig('conf/cluster/query.conf', 'query').jobs, 'url-window-count')[0]!.jetstream!.nats, servers: undefined }, { servers: undefined, user: 'logflow', password: 'secret', tls: { ca: readFileSync(ca, 'utf8') } });
      assert.equal(loadAgentConfig('conf/cluster/query.conf', 'query').http!.port, 9090);
    } finally {
      process.env = env;
    }
  });
});
