import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Agent } from '../daemon/agent.js';
import { loadAgentConfig, parseAgentConfig } from '../daemon/agent-config.js';
import { ofType } from '../daemon/components.js';
import { configErrorOf } from './helpers/config-error.js';
import { tempDir, writeConfig } from './helpers/daemon.js';
import { startUpFailure } from './helpers/start-fails.js';
import { testLogger } from './helpers/logger.js';

const BASE = [
  'a1.sources = r1', 'a1.channels = c1',
  'a1.sources.r1.type = TAILDIR', 'a1.sources.r1.channels = c1',
  'a1.channels.c1.type = memory',
].join('\n');
const parse = (text: string) => parseAgentConfig(`${BASE}\n${text}\n`, 'tail.conf', 'a1', '/srv');
const tailOf = (c: ReturnType<typeof parse>) => ofType(c.sources, 'TAILDIR')[0]!;

describe("TAILDIR configuration: Flume's keys", () => {
  test("every Flume key read, with Flume's defaults; paths resolve against the working directory", () => {
    const c = parse('a1.sources.r1.filegroups = f1 f2\na1.sources.r1.filegroups.f1 = /var/log/nginx/access\\\\.log.*\na1.sources.r1.filegroups.f2 = logs/app.log');
    const t = ofType(c.sources, 'TAILDIR')[0]!;
    assert.equal(c.sources.length, 1);
    assert.deepEqual(t.groups.map((g) => [g.name, g.dir, g.pattern.source, g.headers]), [
      ['f1', '/var/log/nginx', '^(?:access\\.log.*)$', {}],
      ['f2', '/srv/logs', '^(?:app.log)$', {}],
    ]);
    assert.ok(t.groups[0]!.pattern.test('access.log') && t.groups[0]!.pattern.test('access.log.2.gz') && !t.groups[0]!.pattern.test('accessXlog'));
    assert.equal(t.positionFile, path.join(os.homedir(), '.flume', 'taildir_position.json'));
    assert.deepEqual(
      [t.batchSize, t.maxBatchCount, t.idleTimeoutMs, t.writePosIntervalMs, t.skipToEnd, t.cachePatternMatching, t.fileHeader, t.fileHeaderKey, t.maxLineLength, t.decodeErrorPolicy, t.pollDelayMs],
      [100, Number.MAX_SAFE_INTEGER, 120_000, 3_000, false, true, false, 'file', 2048, 'REPLACE', 1_000],
    );
    const set = tailOf(parse([
      'a1.sources.r1.type = taildir', 'a1.sources.r1.filegroups = g', 'a1.sources.r1.filegroups.g = /l/.*',
      'a1.sources.r1.positionFile = state/pos.json', 'a1.sources.r1.headers.g.site = www', 'a1.sources.r1.headers.g.dc = eu-1',
      'a1.sources.r1.batchSize = 500', 'a1.sources.r1.maxBatchCount = 3', 'a1.sources.r1.idleTimeout = 5000', 'a1.sources.r1.writePosInterval = 1000',
      'a1.sources.r1.skipToEnd = true', 'a1.sources.r1.cachePatternMatching = false', 'a1.sources.r1.fileHeader = true', 'a1.sources.r1.fileHeaderKey = path',
      'a1.sources.r1.interceptors = ts', 'a1.sources.r1.interceptors.ts.type = timestamp',
    ].join('\n')));
    assert.deepEqual(
      [set.positionFile, set.groups[0]!.headers, set.batchSize, set.maxBatchCount, set.idleTimeoutMs, set.writePosIntervalMs, set.skipToEnd, set.cachePatternMatching, set.fileHeader, set.fileHeaderKey, set.interceptors.length],
      ['/srv/state/pos.json', { site: 'www', dc: 'eu-1' }, 500, 3, 5000, 1000, true, false, true, 'path', 1],
    );
  });

  test('Flume keys with no effect here are listed in the start-up warning; a typo is an error naming the key it is near', () => {
    const c = parse('a1.sources.r1.filegroups = f1\na1.sources.r1.filegroups.f1 = /l/a.log\na1.sources.r1.byteOffsetHeader = true\na1.sources.r1.maxBackoffSleep = 5000');
    assert.deepEqual(c.notImplemented, ['a1.sources.r1.byteOffsetHeader (line 8)', 'a1.sources.r1.maxBackoffSleep (line 9)']);
    const typo = configErrorOf(parse, 'a1.sources.r1.filegroups = f1\na1.sources.r1.filegroups.f1 = /l/a.log\na1.sources.r1.writePosIntervall = 10');
    assert.equal(typo.code, 'LF_CONFIG_UNKNOWN_KEY');
    assert.match(typo.message, /tail\.conf:8: a1\.sources\.r1\.writePosIntervall \(did you mean a1\.sources\.r1\.writePosInterval\?\)/);
  });

  test('bad values are errors naming the file, line and key', () => {
    const cases: [string, RegExp][] = [
      ['', /a1\.sources\.r1\.filegroups is required/],
      ['a1.sources.r1.filegroups = f1', /a1\.sources\.r1\.filegroups\.f1 is required/],
      ['a1.sources.r1.filegroups = f1\na1.sources.r1.filegroups.f1 = /l/access(.log', /tail\.conf:7: a1\.sources\.r1\.filegroups\.f1: the file name part "access\(\.log" is not a valid regular expression/],
      ['a1.sources.r1.filegroups = f1\na1.sources.r1.filegroups.f1 = /l/', /tail\.conf:7: a1\.sources\.r1\.filegroups\.f1: must end with a regular expression for the file names/],
      ['a1.sources.r1.filegroups = f1\na1.sources.r1.filegroups.f1 = /l/a.log\na1.sources.r1.headers.f2.site = www', /tail\.conf:8: a1\.sources\.r1\.headers\.f2\.site: is not headers\.<group>\.<header> of a group listed in a1\.sources\.r1\.filegroups \(f1\)/],
      ['a1.sources.r1.filegroups = f1\na1.sources.r1.filegroups.f1 = /l/a.log\na1.sources.r1.decodeErrorPolicy = FAIL', /tail\.conf:8: a1\.sources\.r1\.decodeErrorPolicy: FAIL would stop following the file/],
      ['a1.sources.r1.filegroups = f1\na1.sources.r1.filegroups.f1 = /l/a.log\na1.sources.r1.idleTimeout = soon', /tail\.conf:8: a1\.sources\.r1\.idleTimeout must be an integer/],
      ['a1.sources.r1.filegroups = f1\na1.sources.r1.filegroups.f1 = /l/a.log\na1.sources.r1.maxBatchCount = 0', /a1\.sources\.r1\.maxBatchCount must be an integer from 1/],
    ];
    for (const [text, want] of cases) assert.match(configErrorOf(parse, text).message, want, text);
  });

  test('two TAILDIR sources cannot share a position file; batchSize fits the channel', () => {
    const two = parseAgentConfig([
      'a1.sources = r1 r2', 'a1.channels = c1', 'a1.channels.c1.type = memory',
      ...['r1', 'r2'].flatMap((r) => [`a1.sources.${r}.type = TAILDIR`, `a1.sources.${r}.channels = c1`, `a1.sources.${r}.filegroups = f`, `a1.sources.${r}.filegroups.f = /l/${r}.log`, `a1.sources.${r}.positionFile = /s/pos.json`]),
    ].join('\n') + '\n', 'tail.conf', 'a1', '/srv');
    assert.throws(() => new Agent(two, testLogger), /a1\.sources\.r2\.positionFile is r1's too \(\/s\/pos\.json\); each TAILDIR source needs its own/);
    const big = parse('a1.sources.r1.filegroups = f1\na1.sources.r1.filegroups.f1 = /l/a.log\na1.sources.r1.batchSize = 500\na1.channels.c1.transactionCapacity = 100');
    assert.throws(() => new Agent(big, testLogger), /a1\.sources\.r1\.batchSize \(500\) exceeds a1\.channels\.c1\.transactionCapacity \(100\)/);
  });

  test('the bundled conf/tail.conf and conf/docker-tail.conf follow nginx\'s access log and its rotations', () => {
    for (const [file, dir, positionFile] of [['conf/tail.conf', '/var/log/nginx', '/srv/data/taildir_position.json'], ['conf/docker-tail.conf', '/logs', '/app/data/taildir_position.json']] as const) {
      const t = ofType(loadAgentConfig(file, 'a1', '/srv').sources, 'TAILDIR')[0]!;
      const g = t.groups[0]!;
      assert.equal(g.dir, dir, file);
      assert.deepEqual(['access.log', 'access.log.1', 'access.log.2.gz', 'error.log', 'accessXlog'].map((n) => g.pattern.test(n)), [true, true, true, false, false], file);
      assert.equal(t.positionFile, positionFile, file);
      assert.equal(t.skipToEnd, true, file);
    }
  });
});

describe('TAILDIR start-up errors name the key', () => {
  test('a file group whose directory is missing, and a position file that cannot be written', async () => {
    const dir = tempDir();
    await writeConfig(dir, '', {
      'a1.sources.r1.type': 'TAILDIR', 'a1.sources.r1.spoolDir': '',
      'a1.sources.r1.filegroups': 'f1', 'a1.sources.r1.filegroups.f1': 'nowhere/access.log',
      'a1.sources.r1.positionFile': 'data/taildir_position.json',
    });
    const failure = () => startUpFailure(dir);
    assert.match(await failure(), new RegExp(`^logflow: .*agent\\.conf: a1\\.sources\\.r1\\.filegroups\\.f1: ${path.join(dir, 'nowhere')}: ENOENT: the directory of the file group must exist and be readable`));
    mkdirSync(path.join(dir, 'nowhere'));
    mkdirSync(path.join(dir, 'ro'));
    writeFileSync(path.join(dir, 'agent.conf'), (await import('node:fs')).readFileSync(path.join(dir, 'agent.conf'), 'utf8').replace('data/taildir_position.json', 'ro/sub/pos.json'));
    chmodSync(path.join(dir, 'ro'), 0o500);
    if (process.getuid?.() === 0) return; // root writes anywhere
    assert.match(await failure(), /a1\.sources\.r1\.positionFile: .*EACCES/);
  });
});
