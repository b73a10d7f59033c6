import { createHash } from 'node:crypto';
import avro from 'avsc';

/**
 * Flume's `AvroSourceProtocol` (flume-ng-sdk/src/main/avro/AvroSourceProtocol.avdl), as
 * the JSON protocol declaration Avro's handshake exchanges.
 */
export const FLUME_PROTOCOL = {
  protocol: 'AvroSourceProtocol',
  namespace: 'org.apache.flume.source.avro',
  types: [
    { type: 'enum', name: 'Status', symbols: ['OK', 'FAILED', 'UNKNOWN'] },
    {
      type: 'record',
      name: 'AvroFlumeEvent',
      fields: [
        { name: 'headers', type: { type: 'map', values: 'string' } },
        { name: 'body', type: 'bytes' },
      ],
    },
  ],
  messages: {
    append: { request: [{ name: 'event', type: 'AvroFlumeEvent' }], response: 'Status' },
    appendBatch: {
      request: [{ name: 'events', type: { type: 'array', items: 'AvroFlumeEvent' } }],
      response: 'Status',
    },
  },
} as const;

export const FLUME_PROTOCOL_JSON = JSON.stringify(FLUME_PROTOCOL);
/** Avro identifies a protocol by the MD5 of its JSON text. */
export const FLUME_PROTOCOL_HASH: Buffer = createHash('md5').update(FLUME_PROTOCOL_JSON).digest();

export const STATUS = ['OK', 'FAILED', 'UNKNOWN'] as const;
export type Status = (typeof STATUS)[number];

export const MATCH = ['BOTH', 'CLIENT', 'NONE'] as const;

const md5 = { type: 'fixed', name: 'MD5', namespace: 'org.apache.avro.ipc', size: 16 } as const;

/** The handshake records from the Avro specification. */
export const HandshakeRequest = avro.Type.forSchema({
  type: 'record',
  name: 'HandshakeRequest',
  namespace: 'org.apache.avro.ipc',
  fields: [
    { name: 'clientHash', type: md5 },
    { name: 'clientProtocol', type: ['null', 'string'] },
    { name: 'serverHash', type: 'MD5' },
    { name: 'meta', type: ['null', { type: 'map', values: 'bytes' }] },
  ],
} as avro.Schema, { wrapUnions: false });

export const HandshakeResponse = avro.Type.forSchema({
  type: 'record',
  name: 'HandshakeResponse',
  namespace: 'org.apache.avro.ipc',
  fields: [
    { name: 'match', type: { type: 'enum', name: 'HandshakeMatch', symbols: [...MATCH] } },
    { name: 'serverProtocol', type: ['null', 'string'] },
    { name: 'serverHash', type: ['null', md5] },
    { name: 'meta', type: ['null', { type: 'map', values: 'bytes' }] },
  ],
} as avro.Schema, { wrapUnions: false });

export interface HandshakeRequestValue {
  clientHash: Buffer;
  clientProtocol: string | null;
  serverHash: Buffer;
  meta: Record<string, Buffer> | null;
}

export interface HandshakeResponseValue {
  match: (typeof MATCH)[number];
  serverProtocol: string | null;
  serverHash: Buffer | null;
  meta: Record<string, Buffer> | null;
}
