import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { batchFromLines, MemoryChannel } from '../daemon/channel/index.js';
import { AvroRpcClient, AvroRpcServer } from '../daemon/avro/index.js';
import { parseAgentConfig } from '../daemon/agent-config.js';
import { AvroSink } from '../daemon/sink/index.js';
import { AvroSource } from '../daemon/source/index.js';
import { aggregatorConf, freePort, tempDir, waitFor, withDaemon } from './helpers/daemon.js';
import { capturingLogger, testLogger } from './helpers/logger.js';
import { configErrorOf } from './helpers/config-error.js';
import { ofType } from '../daemon/components.js';
import { flumeTier } from './helpers/flume-conf.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const hasKeytool = spawnSync('keytool', ['-help']).status === 0;
const skip = hasOpenssl ? false : 'openssl is not installed (it makes the test certificates)';

const dir = tempDir('logflow-tls-');
const PASSWORD = 'changeit-123';

/** A self-signed certificate for 127.0.0.1 / localhost, as PEM and as a PKCS12 keystore. */
function makeCertificates(): void {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
  run(['pkcs12', '-export', '-inkey', 'key.pem', '-in', 'cert.pem', '-out', 'keystore.p12', '-passout', `pass:${PASSWORD}`]);
  if (hasKeytool) {
    execFileSync('keytool', ['-importkeystore', '-srckeystore', 'keystore.p12', '-srcstoretype', 'PKCS12', '-srcstorepass', PASSWORD,
      '-destkeystore', 'keystore.jks', '-deststoretype', 'JKS', '-deststorepass', PASSWORD, '-noprompt'], { cwd: dir, stdio: 'pipe' });
  }
}

/** A collector whose source and sink take the ssl keys in `source` and `sink` (full keys). */
const collector = (source: string, sink = '') => flumeTier({
  source: ['type = avro', 'bind = 127.0.0.1', 'port = 0'],
  channel: ['type = memory', 'capacity = 10000', 'transactionCapacity = 1000'],
  sink: ['type = avro', 'hostname = 127.0.0.1', 'port = 1'],
  extra: `${source}\n${sink}\n`,
});

const SSL_SOURCE = `a1.sources.r1.ssl = true\na1.sources.r1.keystore = keystore.p12\na1.sources.r1.keystore-password = ${PASSWORD}\na1.sources.r1.keystore-type = PKCS12`;

const parse = (text: string) => parseAgentConfig(text, 'tls.conf', 'a1', dir);

const configError = (text: string) => configErrorOf(parse, text);

describe('ssl = true (Flume\'s keys; PKCS12 keystore, PEM truststore)', { skip }, () => {
  before(() => makeCertificates());

  test('a sink trusting the certificate (truststore) delivers to an ssl avro source, with deflate under TLS too', async () => {
    const conf = parse(collector(`${SSL_SOURCE}\na1.sources.r1.compression-type = deflate`, 'a1.sinks.k1.ssl = true\na1.sinks.k1.truststore = cert.pem\na1.sinks.k1.truststore-password = unused'));
    const inbound = new MemoryChannel(conf.channels[0]! as { name: string; type: 'memory'; capacity: number; transactionCapacity: number });
    const source = new AvroSource(ofType(conf.sources, 'avro')[0]!, inbound, testLogger);
    await source.start();
    const outbound = new MemoryChannel({ name: 'c2', type: 'memory', capacity: 10_000, transactionCapacity: 1000 });
    const sink = new AvroSink({ ...ofType(conf.sinks, 'avro')[0]!, port: source.port, compressionType: 'deflate' }, outbound, testLogger);
    sink.start();
    try {
      for (let b = 0; b < 5; b++) await outbound.put(batchFromLines(Array.from({ length: 1000 }, (_, i) => `tls ${b} ${i}`)));
      await sink.stop(10_000);
      assert.equal(sink.eventsSent, 5000);
      assert.equal(inbound.size, 5000);
    } finally {
      await source.stop();
    }
  });

  test('trust-all-certs = true connects without a truststore; with neither, the self-signed certificate is refused with a clear error', async () => {
    const conf = parse(collector(SSL_SOURCE));
    const source = new AvroSource(ofType(conf.sources, 'avro')[0]!, new MemoryChannel({ name: 'c1', type: 'memory', capacity: 10_000, transactionCapacity: 1000 }), testLogger);
    await source.start();
    try {
      const trustAll = ofType(parse(collector('', 'a1.sinks.k1.ssl = true\na1.sinks.k1.trust-all-certs = true')).sinks, 'avro')[0]!.tls!;
      const ok = await AvroRpcClient.connect({ host: '127.0.0.1', port: source.port, connectTimeout: 2000, requestTimeout: 2000, tls: trustAll });
      assert.equal(await ok.appendBatch([batchFromLines(['a'])]), 'OK');
      ok.close();
      const systemCAs = ofType(parse(collector('', 'a1.sinks.k1.ssl = true')).sinks, 'avro')[0]!.tls!;
      assert.deepEqual(systemCAs, { trustAll: false });
      await assert.rejects(
        AvroRpcClient.connect({ host: '127.0.0.1', port: source.port, connectTimeout: 2000, requestTimeout: 2000, tls: systemCAs }),
        /TLS connection to 127\.0\.0\.1:\d+ failed \(does the receiver have ssl = true, and is its certificate trusted\?\): self.signed certificate/,
      );
    } finally {
      await source.stop();
    }
  });

  test('a plain client against an ssl receiver, and a TLS client against a plain one, fail fast with log lines naming ssl', async () => {
    const pfx = readFileSync(path.join(dir, 'keystore.p12'));
    const tlsLog = capturingLogger();
    const tlsServer = new AvroRpcServer({ bind: '127.0.0.1', port: 0, tls: { pfx, passphrase: PASSWORD }, logger: tlsLog.logger }, () => 'OK');
    const plainLog = capturingLogger();
    const plainServer = new AvroRpcServer({ bind: '127.0.0.1', port: 0, logger: plainLog.logger }, () => 'OK');
    try {
      const plain = await AvroRpcClient.connect({ host: '127.0.0.1', port: await tlsServer.listen(), connectTimeout: 2000, requestTimeout: 5000 });
      await assert.rejects(plain.appendBatch([batchFromLines(['a'])]), /closed by the server before answering/);
      plain.close();
      assert.ok(tlsLog.lines.some((l) => l.includes('avro TLS handshake failed (does the client have ssl = true')), tlsLog.lines.join(''));
      await assert.rejects(
        AvroRpcClient.connect({ host: '127.0.0.1', port: await plainServer.listen(), connectTimeout: 2000, requestTimeout: 5000, tls: { trustAll: true } }),
        /TLS connection .* failed \(does the receiver have ssl = true/,
      );
      assert.ok(plainLog.lines.some((l) => l.includes('the client speaks TLS: set ssl = true on this receiver')), plainLog.lines.join(''));
    } finally {
      await tlsServer.close();
      await plainServer.close();
    }
  });

  test('the job\'s receiver with ssl (in the daemon, in its worker thread): a sink with the truststore delivers every event', { timeout: 60_000 }, async (t) => {
    const port = await freePort();
    const jobDir = tempDir('logflow-tlsjob-');
    writeFileSync(path.join(jobDir, 'job.conf'), aggregatorConf(port, `agg.jobs.j1.ssl = true\nagg.jobs.j1.keystore = ${path.join(dir, 'keystore.p12')}\nagg.jobs.j1.keystore-password = ${PASSWORD}\n`));
    const job = await withDaemon(t, { dir: jobDir, args: ['--conf-file', 'job.conf', '--name', 'agg'] });
    const channel = new MemoryChannel({ name: 'c1', type: 'memory', capacity: 10_000, transactionCapacity: 1000 });
    const tlsSink = ofType(parse(collector('', 'a1.sinks.k1.ssl = true\na1.sinks.k1.truststore = cert.pem')).sinks, 'avro')[0]!;
    const sink = new AvroSink({ ...tlsSink, port, batchSize: 1000 }, channel, testLogger);
    sink.start();
    for (let b = 0; b < 4; b++) {
      await channel.put(batchFromLines(Array.from({ length: 1000 }, (_, i) => `10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /tls/${i % 5} HTTP/1.1" 200 1`), { timestamp: String(Date.now()) }));
    }
    await sink.stop(10_000);
    assert.equal(sink.eventsSent, 4000);
    await waitFor('4000 events counted', async () => (await job.get<{ eventsCounted: number }>('/api/stats')).body.eventsCounted === 4000 || undefined);
    assert.equal(await job.stop('SIGTERM'), 0);
  });

  test('keystores and truststores that cannot be used stop start-up with the key\'s line and what to do', () => {
    assert.match(configError(collector(SSL_SOURCE.replace('keystore-type = PKCS12', 'keystore-type = JKS'))).message, /tls\.conf:\d+: a1\.sources\.r1\.keystore-type: JKS is not supported, only PKCS12 \(convert it: keytool -importkeystore/);
    assert.match(configError(collector(SSL_SOURCE.replace(PASSWORD, 'wrong-password'))).message, /a1\.sources\.r1\.keystore: is not a PKCS12 keystore this password opens/);
    assert.match(configError(collector(SSL_SOURCE.replace('keystore.p12', 'missing.p12'))).message, /a1\.sources\.r1\.keystore: cannot be read/);
    assert.match(configError(collector('a1.sources.r1.ssl = true\na1.sources.r1.keystore = keystore.p12')).message, /a1\.sources\.r1\.keystore-password/);
    writeFileSync(path.join(dir, 'not-pem.jks'), Buffer.from([0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]));
    assert.match(configError(collector('', 'a1.sinks.k1.ssl = true\na1.sinks.k1.truststore = not-pem.jks')).message, /a1\.sinks\.k1\.truststore: is not PEM certificates \(JKS and PKCS12 truststores are not supported: export/);
    assert.match(configError(collector('', 'a1.sinks.k1.ssl = true\na1.sinks.k1.truststore = cert.pem\na1.sinks.k1.truststore-type = JKS')).message, /truststore-type: JKS is not supported, only PEM/);
    // ssl = false: the other keys are accepted silently, as Flume ignores them.
    assert.doesNotThrow(() => parse(collector('a1.sources.r1.ssl = false\na1.sources.r1.keystore = x.jks', 'a1.sinks.k1.truststore = x.jks')));
  });

  test('a real JKS keystore (made by keytool) is refused, naming the conversion', { skip: hasKeytool ? false : 'keytool is not installed' }, () => {
    const err = configError(collector(SSL_SOURCE.replace('keystore.p12', 'keystore.jks').replace('\na1.sources.r1.keystore-type = PKCS12', '')));
    assert.match(err.message, /a\ JKS keystore is not supported: convert it: keytool -importkeystore/);
  });
});
