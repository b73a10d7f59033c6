import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadAgentConfig, parseAgentConfig } from '../daemon/agent-config.js';
import { parseProperties } from '../daemon/conf/index.js';
import { configErrorOf } from './helpers/config-error.js';
import { ofType } from '../daemon/components.js';

const MINIMAL = `
a1.sources = r1
a1.channels = c1
a1.sources.r1.type = spooldir
a1.sources.r1.spoolDir = spool
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
`;

const configError = (text: string) => configErrorOf((t) => parseAgentConfig(t, 'test.conf', 'a1', '/base'), text);

describe('properties parser', () => {
  test('reads Java properties syntax: separators, comments, continuations, escapes', () => {
    const props = parseProperties([
      '# comment',
      '! another comment',
      'a = 1',
      'b:2',
      'c 3',
      '  d=spaced value  ',
      'e = one \\',
      '    two',
      'f = tab\\there \\u0041',
      'g\\ key = v',
      'a = last wins',
    ].join('\n'));
    assert.equal(props.get('a')!.value, 'last wins');
    assert.equal(props.get('a')!.line, 11);
    assert.equal(props.get('b')!.value, '2');
    assert.equal(props.get('c')!.value, '3');
    assert.equal(props.get('d')!.value, 'spaced value');
    assert.equal(props.get('e')!.value, 'one two');
    assert.equal(props.get('e')!.line, 7);
    assert.equal(props.get('f')!.value, 'tab\there A');
    assert.equal(props.get('g key')!.value, 'v');
  });

  test('reports a malformed unicode escape with its line', () => {
    assert.throws(() => parseProperties('a = 1\nb = \\u12'), /line 2/);
  });
});

describe('agent configuration', () => {
  test('the bundled conf/agent.conf loads with the documented values', () => {
    const c = loadAgentConfig('conf/agent.conf', 'a1', '/srv');
    const source = ofType(c.sources, 'spooldir')[0]!;
    const sink = ofType(c.sinks, 'avro')[0]!;
    const job = ofType(c.jobs, 'url-window-count')[0]!;
    assert.equal(source.spoolDir, path.resolve('/srv', 'spool'));
    assert.equal(source.fileSuffix, '.COMPLETED');
    assert.equal(source.fileHeader, true);
    assert.equal(source.interceptors[0]!.type, 'timestamp');
    assert.equal(c.channels[0]!.capacity, 100_000);
    assert.equal(sink.port, 4141);
    assert.equal(sink.batchSize, 1000);
    assert.equal(job.windowDurationMs, 300_000);
    assert.equal(job.batchIntervalMs, 1000);
    assert.equal(job.database, path.resolve('/srv', 'data/results.db'));
    assert.deepEqual(c.http, { bind: '127.0.0.1', port: 8080, authToken: undefined, allowedHosts: ['localhost', '127.0.0.1', '[::1]'], pipelineNice: 10, maxConnections: 1000, queryThreads: 2 });
  });

  test('applies Flume defaults for spooldir keys', () => {
    const s = ofType(parseAgentConfig(MINIMAL, 'test.conf', 'a1', '/base').sources, 'spooldir')[0]!;
    assert.equal(s.spoolDir, '/base/spool');
    assert.equal(s.deletePolicy, 'never');
    assert.equal(s.fileHeaderKey, 'file');
    assert.equal(s.basenameHeaderKey, 'basename');
    assert.equal(s.batchSize, 100);
    assert.equal(s.consumeOrder, 'oldest');
    assert.equal(s.pollDelay, 500);
    assert.equal(s.maxLineLength, 2048);
  });

  test('reads the deserializer.maxLineLength key as Flume spells it', () => {
    const s = ofType(parseAgentConfig(MINIMAL + 'a1.sources.r1.deserializer.maxLineLength = 100\n', 't', 'a1').sources, 'spooldir')[0]!;
    assert.equal(s.maxLineLength, 100);
  });

  test('an unknown key stops start-up, naming the key and its line', () => {
    const err = configError(MINIMAL + 'a1.sources.r1.spolDir = typo\n');
    assert.equal(err.code, 'LF_CONFIG_UNKNOWN_KEY');
    assert.equal(err.key, 'a1.sources.r1.spolDir');
    assert.equal(err.line, 8);
    assert.match(err.message, /test\.conf:8: a1\.sources\.r1\.spolDir/);
  });

  test('a missing required key is named', () => {
    const err = configError(MINIMAL.replace('a1.sources.r1.spoolDir = spool\n', ''));
    assert.equal(err.code, 'LF_CONFIG_MISSING_KEY');
    assert.equal(err.key, 'a1.sources.r1.spoolDir');
  });

  test('a bad value is named with its line and what was expected', () => {
    const err = configError(MINIMAL + 'a1.channels.c1.capacity = lots\n');
    assert.equal(err.code, 'LF_CONFIG_BAD_VALUE');
    assert.equal(err.key, 'a1.channels.c1.capacity');
    assert.match(err.message, /:8: a1\.channels\.c1\.capacity must be an integer/);
    assert.match(configError(MINIMAL + 'a1.sources.r1.consumeOrder = newest\n').message, /one of oldest, youngest, random/);
    assert.match(configError(MINIMAL + 'a1.sources.r1.fileHeader = yes\n').message, /true or false/);
    assert.match(configError(MINIMAL + 'a1.sources.r1.includePattern = (\n').message, /regular expression/);
  });

  test('a window that is not a multiple of the batch interval is refused', () => {
    const job = `a1.jobs = j1\na1.jobs.j1.type = url-window-count\na1.jobs.j1.port = 4141\na1.jobs.j1.batchInterval = 2\na1.jobs.j1.windowDuration = 5\n`;
    const err = configError(MINIMAL + job);
    assert.equal(err.key, 'a1.jobs.j1.windowDuration');
  });

  test('a source naming a channel that is not listed is refused', () => {
    const err = configError(MINIMAL.replace('a1.sources.r1.channels = c1', 'a1.sources.r1.channels = c9'));
    assert.equal(err.key, 'a1.sources.r1.channels');
  });

  test('an agent name with no components is refused (a wrong --name)', () => {
    assert.throws(() => parseAgentConfig(MINIMAL, 'test.conf', 'agent2'), /has no sources, sinks or jobs/);
  });

  test('keys of other agents in the same file are not this agent\'s business', () => {
    const c = parseAgentConfig(MINIMAL + 'a2.sources = x\na2.whatever = 1\n', 't', 'a1');
    assert.equal(c.sources.length, 1);
  });
});

describe('bundled configurations', () => {
  test('conf/docker.conf loads and listens on all interfaces with container paths', () => {
    const c = loadAgentConfig('conf/docker.conf', 'a1');
    assert.equal(c.http!.bind, '0.0.0.0');
    assert.equal(ofType(c.sources, 'spooldir')[0]!.spoolDir, '/app/spool');
    assert.equal(ofType(c.jobs, 'url-window-count')[0]!.database, '/app/data/results.db');
    // In the data volume, so that `docker compose down -v` clears the file records too.
    assert.equal(ofType(c.sources, 'spooldir')[0]!.trackerDir, '/app/data/spool-records');
  });

  test('conf/docker-postgres.conf (compose profile postgres) writes to the service `postgres`, the password from LOGFLOW_PG_PASSWORD', () => {
    const c = parseAgentConfig(readFileSync('conf/docker-postgres.conf', 'utf8'), 'conf/docker-postgres.conf', 'a1', '/app', { LOGFLOW_PG_PASSWORD: 'pw' });
    const job = ofType(c.jobs, 'url-window-count')[0]!;
    assert.deepEqual(job.postgres, { host: 'postgres', port: 5432, user: 'logflow', password: 'pw', database: 'logflow', sslMode: 'disable', sslRootCert: undefined });
    assert.equal(job.database, 'postgres://logflow:***@postgres:5432/logflow');
    assert.equal(job.instance, 'a1');
  });

  test('conf/edge.conf and conf/aggregator.conf load: an edge sends, an aggregator counts', () => {
    const edge = loadAgentConfig('conf/edge.conf', 'edge');
    assert.equal(edge.jobs.length, 0);
    assert.equal(edge.http, undefined);
    assert.equal(ofType(edge.sinks, 'avro')[0]!.port, 4545);
    const agg = loadAgentConfig('conf/aggregator.conf', 'agg');
    assert.equal(agg.sources.length, 0);
    const job = ofType(agg.jobs, 'url-window-count')[0]!;
    assert.equal(job.port, 4545);
    assert.equal(job.bind, '0.0.0.0');
  });

  test("the seed's Flume configuration loads as it is", () => {
    const seed = `a1.sources = r1
a1.sinks = k1
a1.channels = c1
a1.sources.r1.type = spooldir
a1.sources.r1.spoolDir = /home/maria_dev/spool
a1.sources.r1.fileHeader = true
a1.sources.r1.interceptors = timestampInterceptor
a1.sources.r1.interceptors.timestampInterceptor.type = timestamp
a1.sinks.k1.type = avro
a1.sinks.k1.hostname = localhost
a1.sinks.k1.port = 9092
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.channel = c1
a1.sources.r1.channels = c1
`;
    const c = parseAgentConfig(seed, 'sparkstreamingflume.conf', 'a1');
    assert.equal(ofType(c.sources, 'spooldir')[0]!.spoolDir, '/home/maria_dev/spool');
    assert.equal(ofType(c.sinks, 'avro')[0]!.hostname, 'localhost');
    assert.equal(ofType(c.sinks, 'avro')[0]!.port, 9092);
    assert.equal(c.channels[0]!.transactionCapacity, 100);
    assert.equal(c.jobs.length, 0);
  });

  test('Flume keys that have no effect here are accepted and listed; a typo is still refused', () => {
    const c = parseAgentConfig(MINIMAL + 'a1.sources.r1.recursiveDirectorySearch = false\na1.channels.c1.keepAlive = 3\n', 't.conf', 'a1');
    assert.deepEqual(c.notImplemented, ['a1.sources.r1.recursiveDirectorySearch (line 8)', 'a1.channels.c1.keepAlive (line 9)']);
    assert.throws(() => parseAgentConfig(MINIMAL + 'a1.channels.c1.keepAlvie = 3\n', 't.conf', 'a1'), /keepAlvie/);
  });

  test('host and static interceptors, with Flume\'s keys and defaults', () => {
    const c = parseAgentConfig(
      MINIMAL + 'a1.sources.r1.interceptors = h s\na1.sources.r1.interceptors.h.type = host\na1.sources.r1.interceptors.h.useIP = false\n' +
        'a1.sources.r1.interceptors.s.type = static\na1.sources.r1.interceptors.s.key = dc\na1.sources.r1.interceptors.s.value = eu-1\n',
      't.conf', 'a1',
    );
    const [h, st] = ofType(c.sources, 'spooldir')[0]!.interceptors;
    assert.deepEqual({ ...h }, { type: 'host', headerName: 'host', preserveExisting: false, value: os.hostname() });
    assert.deepEqual({ ...st }, { type: 'static', headerName: 'dc', preserveExisting: true, value: 'eu-1' });
  });
});
