import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAgentConfig } from '../daemon/agent-config.js';
import { distance, nearest } from '../daemon/conf/did-you-mean.js';
import { configErrorOf } from './helpers/config-error.js';

/** The README's agent, short: a typo in it must be named before what the typo causes. */
const AGENT = `a1.sources = r1
a1.channels = c1
a1.sources.r1.type = spooldir
a1.sources.r1.spoolDir = spool
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 100000
a1.channels.c1.transactionCapacity = 1000
a1.http.port = 8080
`;

const configError = (text: string) => configErrorOf((t) => parseAgentConfig(t, 'test.conf', 'a1', '/base'), text);

describe('configuration errors: unknown keys first, with "did you mean"', () => {
  test('spoolDri= is named on its line as a typo of spoolDir, not as "spoolDir is required"', () => {
    const err = configError(AGENT.replace('spoolDir = spool', 'spoolDri = spool'));
    assert.equal(err.code, 'LF_CONFIG_UNKNOWN_KEY');
    assert.equal(err.key, 'a1.sources.r1.spoolDri');
    assert.equal(err.line, 4);
    assert.match(err.message, /test\.conf:4: a1\.sources\.r1\.spoolDri \(did you mean a1\.sources\.r1\.spoolDir\?\)/);
  });

  test('capacty= is named as a typo of capacity, not as transactionCapacity being too large for the default', () => {
    const err = configError(AGENT.replace('c1.capacity = ', 'c1.capacty = '));
    assert.equal(err.code, 'LF_CONFIG_UNKNOWN_KEY');
    assert.equal(err.line, 7);
    assert.match(err.message, /a1\.channels\.c1\.capacty \(did you mean a1\.channels\.c1\.capacity\?\)/);
  });

  test('a typo of an optional key, and of the http section, in a configuration that is otherwise fine', () => {
    const err = configError(AGENT + 'a1.sources.r1.fileSufix = .DONE\na1.http.prot = 8081\n');
    assert.match(err.message, /:10: a1\.sources\.r1\.fileSufix \(did you mean a1\.sources\.r1\.fileSuffix\?\); test\.conf:11: a1\.http\.prot \(did you mean a1\.http\.port\?\)/);
  });

  test('a key like no other is still unknown, with no suggestion; the error after a typo-free config is unchanged', () => {
    const err = configError(AGENT + 'a1.sources.r1.zebra = 1\n');
    assert.match(err.message, /a1\.sources\.r1\.zebra$/);
    const bad = configError(AGENT.replace('transactionCapacity = 1000', 'transactionCapacity = 1000000'));
    assert.equal(bad.code, 'LF_CONFIG_BAD_VALUE');
    assert.equal(bad.key, 'a1.channels.c1.transactionCapacity');
  });

  test('nearest offers only close keys: a swap counts once, and unrelated keys are never offered', () => {
    assert.equal(distance('spooldri', 'spooldir'), 1);
    assert.equal(distance('kitten', 'sitting'), 3);
    assert.equal(nearest('a1.x.spoolDri', ['a1.x.spoolDir', 'a1.x.fileSuffix']), 'a1.x.spoolDir');
    assert.equal(nearest('a1.x.zebra', ['a1.x.spoolDir', 'a1.x.fileSuffix']), undefined);
    assert.equal(nearest('a1.x.ssl', ['a1.x.port']), undefined, 'short keys: one edit at most');
  });
});

describe('bundled configurations', () => {
  test('those that bind Avro on all interfaces warn, next to the key, that anyone can send and what to set', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    for (const name of readdirSync('conf').filter((f) => f.endsWith('.conf'))) {
      const lines = readFileSync(`conf/${name}`, 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (!/\.(sources|jobs)\.[^.]+\.bind\s*=\s*0\.0\.0\.0/.test(line)) return;
        const above = lines.slice(Math.max(0, i - 4), i).join('\n');
        assert.match(above, /WARNING: bind = 0\.0\.0\.0 accepts Avro from any host/, `${name}:${i + 1}`);
        assert.match(above, /ipFilterRules/, `${name}:${i + 1}`);
        assert.match(above, /ssl = true/, `${name}:${i + 1}`);
      });
    }
  });
});
