import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Agent } from '../daemon/agent.js';
import { loadAgentConfig, parseAgentConfig } from '../daemon/agent-config.js';
import { testLogger } from './helpers/logger.js';
import { configErrorOf } from './helpers/config-error.js';
import { ofType } from '../daemon/components.js';

const ENV = { NATS_SERVERS: 'nats://10.0.0.1:4222,nats://10.0.0.2:4222', LOGFLOW_DIR: '/srv/logflow', HTTP_PORT: '9090' };
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
    assert.deepEqual(ofType(c.sinks, 'jetstream')[0]!.servers, ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222']);
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
  test('the jetstream sink\'s defaults', () => {
    const k = ofType(parse(EDGE).sinks, 'jetstream')[0]!;
    assert.deepEqual({ ...k, servers: undefined }, { name: 'k1', type: 'jetstream', channel: 'c1', servers: undefined, stream: 'LOGFLOW_EVENTS', subject: 'logflow.events', partitions: 8, replicas: 1, batchSize: 1000 });
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
    assert.equal(counter.output, 'LOGFLOW_COUNTS');
    assert.equal(counter.leaseTimeoutMs, 5000);
    assert.equal(ofType(c.jobs, 'url-window-count').length, 0);
    const q = ofType(parse(`
a1.jobs = j1
a1.jobs.j1.type = url-window-count
a1.jobs.j1.input = jetstream
a1.jobs.j1.servers = \${NATS_SERVERS}
`).jobs, 'url-window-count')[0]!;
    assert.equal(q.input, 'jetstream');
    assert.equal(q.jetstream!.stream, 'LOGFLOW_COUNTS');
    assert.equal(q.port, 0);
  });

  test('the shipped conf/cluster files load with their variables set', () => {
    const env = process.env;
    process.env = { ...env, ...ENV };
    try {
      assert.equal(ofType(loadAgentConfig('conf/cluster/edge.conf', 'edge').sinks, 'jetstream')[0]!.replicas, 3);
      assert.equal(ofType(loadAgentConfig('conf/cluster/counter.conf', 'counter').jobs, 'url-count-partial')[0]!.partitions, 8);
      assert.equal(loadAgentConfig('conf/cluster/query.conf', 'query').http!.port, 9090);
    } finally {
      process.env = env;
    }
  });
});
