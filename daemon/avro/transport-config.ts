import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { PropertyReader } from '../conf/index.js';
import { COMPRESSION_TYPES, type CompressionType } from './deflate-wire.js';
import { parseIpFilterRules, type IpFilterRule } from './ip-filter.js';

/** Config keys of an Avro endpoint (source, sink, the job's receiver): compression, TLS, ip filter. */

export function readCompressionType(r: PropertyReader, key: string): CompressionType {
  return r.oneOf(key, COMPRESSION_TYPES, 'none');
}

/**
 * Flume's `ssl`, `keystore`, `keystore-password`, `keystore-type`: only PKCS12 (Java's JKS
 * cannot be read here), loaded now so a wrong file or password stops start-up.
 */
export function readKeystore(r: PropertyReader, p: string, resolve: (p: string) => string): { pfx: Buffer; passphrase: string } | undefined {
  const keys = ['keystore', 'keystore-password', 'keystore-type'].map((k) => `${p}.${k}`);
  if (!r.bool(p + '.ssl', false)) {
    for (const k of keys) r.markUsed(k);
    return undefined;
  }
  const convert = 'convert it: keytool -importkeystore -srckeystore KS.jks -destkeystore KS.p12 -deststoretype PKCS12';
  const type = r.raw(p + '.keystore-type');
  if (type && type.value.toUpperCase() !== 'PKCS12') throw r.at(type, `${type.value} is not supported, only PKCS12 (${convert})`);
  const file = resolve(r.string(p + '.keystore'));
  const passphrase = r.string(p + '.keystore-password');
  let pfx: Buffer;
  try {
    pfx = readFileSync(file);
  } catch (err) {
    throw r.at(r.raw(p + '.keystore')!, `cannot be read: ${(err as Error).message}`);
  }
  try {
    tls.createSecureContext({ pfx, passphrase });
  } catch (err) {
    throw r.at(r.raw(p + '.keystore')!, `is not a PKCS12 keystore this password opens (a JKS keystore is not supported: ${convert}): ${(err as Error).message}`);
  }
  return { pfx, passphrase };
}

/**
 * Flume's sink `ssl`, `trust-all-certs`, `truststore`: the truststore must be PEM
 * certificates (Java's JKS and PKCS12 truststores cannot be read here).
 */
export function readTruststore(r: PropertyReader, p: string, resolve: (p: string) => string): { ca?: Buffer; trustAll: boolean } | undefined {
  const keys = ['trust-all-certs', 'truststore', 'truststore-password', 'truststore-type'].map((k) => `${p}.${k}`);
  if (!r.bool(p + '.ssl', false)) {
    for (const k of keys) r.markUsed(k);
    return undefined;
  }
  const trustAll = r.bool(p + '.trust-all-certs', false);
  r.markUsed(p + '.truststore-password');
  const convert = 'export its certificates as PEM: keytool -exportcert -rfc -alias ALIAS -keystore TS.jks > ca.pem';
  const type = r.raw(p + '.truststore-type');
  if (type && type.value.toUpperCase() !== 'PEM') throw r.at(type, `${type.value} is not supported, only PEM (${convert})`);
  const store = r.raw(p + '.truststore');
  if (!store) return { trustAll };
  let ca: Buffer;
  try {
    ca = readFileSync(resolve(store.value));
  } catch (err) {
    throw r.at(store, `cannot be read: ${(err as Error).message}`);
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw r.at(store, `is not PEM certificates (JKS and PKCS12 truststores are not supported: ${convert})`);
  return { ca, trustAll };
}

/** As Flume's avro source: `ipFilterRules` apply when `ipFilter = true`, and must then be set. */
export function readIpFilter(r: PropertyReader, p: string): IpFilterRule[] | undefined {
  const on = r.bool(p + '.ipFilter', false);
  const prop = r.raw(p + '.ipFilterRules');
  if (!on) return undefined;
  if (!prop) throw r.missing(p + '.ipFilterRules');
  try {
    return parseIpFilterRules(prop.value);
  } catch (err) {
    throw r.at(prop, (err as Error).message);
  }
}
