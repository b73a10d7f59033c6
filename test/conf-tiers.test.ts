import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseAgentConfig } from '../daemon/agent-config.js';
import { configErrorOf } from './helpers/config-error.js';
import { ofType } from '../daemon/components.js';
import { flumeTier } from './helpers/flume-conf.js';

/** A Flume collector: avro source -> file channel -> avro sink. */
const COLLECTOR = flumeTier({
  source: ['type = avro', 'bind = 0.0.0.0', 'port = 4141'],
  channel: ['type = file', 'checkpointDir = fc/checkpoint', 'dataDirs = fc/data'],
  sink: ['type = avro', 'hostname = next-hop', 'port = 4545'],
});

const parse = (text: string) => parseAgentConfig(text, 'test.conf', 'a1', '/base');

const configError = (text: string) => configErrorOf(parse, text);

describe('configuration of Flume\'s tiers: avro source, file channel, compression', () => {
  test('a collector reads with Flume\'s defaults', () => {
    const c = parse(COLLECTOR);
    assert.deepEqual(c.sources, [{ name: 'r1', type: 'avro', channel: 'c1', bind: '0.0.0.0', port: 4141, compressionType: 'none', interceptors: [], ipFilterRules: undefined, maxConnections: 1000 }]);
    assert.deepEqual(c.channels[0], {
      name: 'c1', type: 'file', capacity: 1_000_000, transactionCapacity: 10_000,
      checkpointDir: path.resolve('/base', 'fc/checkpoint'), dataDir: path.resolve('/base', 'fc/data'), maxFileSize: 2_146_435_071, keepAliveMs: 3000,
    });
    assert.equal(parse(COLLECTOR + 'a1.channels.c1.keep-alive = 0.5\n').channels[0]!.keepAliveMs, 500);
    assert.equal(ofType(c.sinks, 'avro')[0]!.compressionType, 'none');
    assert.equal(ofType(c.sinks, 'avro')[0]!.compressionLevel, 6);
  });

  test('the file channel\'s directories default to Flume\'s, under the home directory', () => {
    const c = parse(COLLECTOR.replace(/a1\.channels\.c1\.(checkpointDir|dataDirs) = .*\n/g, ''));
    const ch = c.channels[0]!;
    assert.equal(ch.type === 'file' && ch.checkpointDir, path.join(os.homedir(), '.flume', 'file-channel', 'checkpoint'));
    assert.equal(ch.type === 'file' && ch.dataDir, path.join(os.homedir(), '.flume', 'file-channel', 'data'));
  });

  test('compression-type (any case) and compression-level; the job\'s receiver takes compression-type too', () => {
    const c = parse(COLLECTOR + 'a1.sources.r1.compression-type = DEFLATE\na1.sinks.k1.compression-type = deflate\na1.sinks.k1.compression-level = 9\na1.jobs = j1\na1.jobs.j1.type = url-window-count\na1.jobs.j1.port = 5000\na1.jobs.j1.compression-type = deflate\n');
    assert.equal(ofType(c.sources, 'avro')[0]!.compressionType, 'deflate');
    assert.equal(ofType(c.sinks, 'avro')[0]!.compressionType, 'deflate');
    assert.equal(ofType(c.sinks, 'avro')[0]!.compressionLevel, 9);
    assert.equal(ofType(c.jobs, 'url-window-count')[0]!.compressionType, 'deflate');
    assert.match(configError(COLLECTOR + 'a1.sinks.k1.compression-type = snappy\n').message, /compression-type.*none, deflate/);
    assert.match(configError(COLLECTOR + 'a1.sinks.k1.compression-level = 10\n').message, /compression-level/);
  });

  test('Flume keys without effect here are accepted with a warning; an encryption that would be ignored stops start-up; ipFilter applies', () => {
    const c = parse(COLLECTOR + 'a1.sources.r1.threads = 4\na1.channels.c1.checkpointInterval = 30000\na1.channels.c1.useDualCheckpoints = false\n');
    assert.deepEqual(c.notImplemented, ['a1.sources.r1.threads (line 15)', 'a1.channels.c1.checkpointInterval (line 16)', 'a1.channels.c1.useDualCheckpoints (line 17)']);
    assert.match(configError(COLLECTOR + 'a1.sources.r1.ipFilter = true\n').message, /a1\.sources\.r1\.ipFilterRules/);
    assert.deepEqual(ofType(parse(COLLECTOR + 'a1.sources.r1.ipFilter = true\na1.sources.r1.ipFilterRules = allow:ip:10.*,deny:ip:*\n').sources, 'avro')[0]!.ipFilterRules!.length, 2);
    assert.match(configError(COLLECTOR + 'a1.channels.c1.encryption.activeKey = key-0\n').message, /test\.conf:15: a1\.channels\.c1\.encryption\.activeKey: file channel encryption is not supported/);
    assert.doesNotThrow(() => parse(COLLECTOR + 'a1.sources.r1.ssl = false\n'));
  });

  test('wrong values are named with their line', () => {
    assert.match(configError(COLLECTOR.replace('a1.sources.r1.bind = 0.0.0.0\n', '')).message, /a1\.sources\.r1\.bind/);
    assert.match(configError(COLLECTOR.replace('dataDirs = fc/data', 'dataDirs = d1,d2')).message, /one data directory is supported/);
    assert.match(configError(COLLECTOR.replace('dataDirs = fc/data', 'dataDirs = fc/checkpoint')).message, /must differ from checkpointDir/);
    assert.match(configError(COLLECTOR.replace('r1.type = avro', 'r1.type = netcat')).message, /one of spooldir, avro/);
    assert.match(configError(COLLECTOR.replace('c1.type = file', 'c1.type = jdbc')).message, /one of memory, file/);
    assert.match(configError(COLLECTOR + 'a1.channels.c1.maxFileSize = 10\n').message, /maxFileSize/);
  });
});

describe('conf/collector.conf', () => {
  test('loads: avro source -> file channel -> avro sink to the aggregator\'s port', async () => {
    const { loadAgentConfig } = await import('../daemon/agent-config.js');
    const c = loadAgentConfig('conf/collector.conf', 'collector', '/srv');
    assert.equal(ofType(c.sources, 'avro')[0]!.port, 4141);
    assert.equal(c.channels[0]!.type, 'file');
    assert.equal(c.channels[0]!.type === 'file' && c.channels[0]!.dataDir, '/srv/collector/data');
    assert.equal(ofType(c.sinks, 'avro')[0]!.port, 4545);
    assert.deepEqual(c.notImplemented, []);
  });
});
