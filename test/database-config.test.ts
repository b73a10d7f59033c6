import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAgentConfig } from '../daemon/agent-config.js';
import { ofType } from '../daemon/components.js';
import { configErrorOf } from './helpers/config-error.js';

/** A job with `database` (and more lines) as given. */
const agent = (database: string, more = '') => `a1.jobs = j1
a1.jobs.j1.type = url-window-count
a1.jobs.j1.port = 4141
a1.jobs.j1.database = ${database}
${more}`;

const ENV = { LF_DB_PASSWORD: 'p@ss:w/rd#1?', PLAIN: 's3cret' };
const parse = (text: string) => parseAgentConfig(text, 'test.conf', 'a1', '/base', ENV);
const job = (database: string, more = '') => ofType(parse(agent(database, more)).jobs, 'url-window-count')[0]!;
const configError = (text: string) => configErrorOf(parse, text);

describe('a1.jobs.<job>.database: a SQLite file or a PostgreSQL server', () => {
  test('a path stays a SQLite file, resolved against the start directory', () => {
    const j = job('data/results.db');
    assert.equal(j.database, '/base/data/results.db');
    assert.equal(j.postgres, undefined);
  });

  test('postgres:// and postgresql:// name a server: user, host, port (5432 by default), database; sslmode disable by default', () => {
    assert.deepEqual(job('postgres://logflow@db.example:6543/results').postgres, {
      host: 'db.example', port: 6543, user: 'logflow', password: undefined, database: 'results', sslMode: 'disable', sslRootCert: undefined,
    });
    const j = job('postgresql://logflow@[::1]/results');
    assert.equal(j.postgres?.host, '::1');
    assert.equal(j.postgres?.port, 5432);
    assert.equal(j.database, 'postgresql://logflow@[::1]/results', 'shown as written, without a password to hide');
  });

  test('the password from ${ENV}, read whole even with @ : / # ? in it, percent-decoded; logs and errors show ***', () => {
    const j = job('postgres://logflow:${LF_DB_PASSWORD}@db:5432/results?sslmode=require');
    assert.equal(j.postgres?.password, 'p@ss:w/rd#1?');
    assert.equal(j.postgres?.host, 'db');
    assert.equal(j.postgres?.database, 'results');
    assert.equal(j.postgres?.sslMode, 'require');
    assert.equal(j.database, 'postgres://logflow:***@db:5432/results?sslmode=require');
    assert.equal(job('postgres://logflow:%23x%25@db/results').postgres?.password, '#x%');
    assert.equal(job('postgres://logflow:${PLAIN}@db/results').postgres?.password, 's3cret');
  });

  test('sslmode require, verify-ca and verify-full (sslrootcert resolved); prefer and allow refused, naming the key', () => {
    assert.equal(job('postgres://u@db/r?sslmode=require').postgres?.sslMode, 'require');
    const full = job('postgres://u@db/r?sslmode=verify-full&sslrootcert=certs/ca.pem').postgres!;
    assert.equal(full.sslMode, 'verify-full');
    assert.equal(full.sslRootCert, '/base/certs/ca.pem');
    for (const mode of ['prefer', 'allow', 'bogus']) {
      const err = configError(agent(`postgres://u:\${PLAIN}@db/r?sslmode=${mode}`));
      assert.equal(err.key, 'a1.jobs.j1.database');
      assert.equal(err.line, 4);
      assert.match(err.message, /test\.conf:4: a1\.jobs\.j1\.database: sslmode must be one of disable, require, verify-ca, verify-full/);
      assert.doesNotMatch(err.message, /s3cret/, 'the password is not in the error');
    }
    assert.match(configError(agent('postgres://u@db/r?sslmode=require&sslrootcert=ca.pem')).message, /sslrootcert is read with sslmode=verify-ca or verify-full/);
    assert.match(configError(agent('postgres://u@db/r?connect_timeout=3')).message, /unknown parameter "connect_timeout" \(known: sslmode, sslrootcert\)/);
  });

  test('any other scheme:// is refused naming the key (it was a SQLite file under a folder named "mysql:")', () => {
    for (const url of ['mysql://root@db/logs', 'sqlite://data/results.db', 'http://db:5432/x', 'jdbc:postgresql://db/x'.replace('jdbc:', 'jdbc://')]) {
      const err = configError(agent(url));
      assert.equal(err.code, 'LF_CONFIG_BAD_VALUE', url);
      assert.equal(err.key, 'a1.jobs.j1.database');
      assert.match(err.message, /test\.conf:4: a1\.jobs\.j1\.database: \w+:\/\/ is not a results database logflow can write: give a SQLite file path, or postgres:\/\/USER@HOST:PORT\/DB/);
    }
    const err = configError(agent('mysql://root:${PLAIN}@db/logs'));
    assert.doesNotMatch(err.message, /s3cret/);
    assert.match(err.message, /mysql:\/\/root:\*\*\*@db\/logs/);
  });

  test('a URL without user, database or a valid port is refused naming the key', () => {
    assert.match(configError(agent('postgres://db:5432/results')).message, /names no user/);
    assert.match(configError(agent('postgres://u@db:5432')).message, /names no database/);
    assert.match(configError(agent('postgres://u@db:5432/')).message, /names no database/);
    assert.match(configError(agent('postgres://u@db:99999/r')).message, /port 99999 is not from 1 to 65535/);
    assert.match(configError(agent('postgres://u@db:port/r')).message, /has no valid HOST\[:PORT\]/);
    assert.match(configError(agent('postgres://u:%zz@db/r')).message, /the password is not percent-encoded correctly/);
  });
});

describe('a1.jobs.<job>.instance: the name of a writer in a shared database', () => {
  test("the agent's name by default; any name of letters, digits, _ . -", () => {
    assert.equal(job('data/results.db').instance, 'a1');
    assert.equal(job('data/results.db', 'a1.jobs.j1.instance = web-01.eu_west').instance, 'web-01.eu_west');
  });

  test('anything else is refused naming the key (* means all instances to the API)', () => {
    for (const bad of ['*', 'a b', 'x'.repeat(64), 'é']) {
      const err = configError(agent('data/results.db', `a1.jobs.j1.instance = ${bad}`));
      assert.equal(err.key, 'a1.jobs.j1.instance', bad);
    }
  });
});
