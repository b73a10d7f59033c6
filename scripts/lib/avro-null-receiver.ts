#!/usr/bin/env node
/**
 * An Avro receiver that decodes every event and answers OK, nothing more: the other end
 * of the benchmark's "Avro RPC alone" figure. Prints `port N` when listening and the
 * events received when it gets SIGTERM. `deflate` as an argument: compression-type = deflate.
 */
import { pino } from 'pino';
import { AvroRpcServer } from '../../daemon/avro/index.js';

let events = 0;
const compressionType = process.argv.includes('deflate') ? 'deflate' : 'none';
const server = new AvroRpcServer({ bind: '127.0.0.1', port: 0, compressionType, logger: pino({ level: 'silent' }) }, (ev) => {
  events += ev.count;
  return 'OK';
});
const port = await server.listen();
process.stdout.write(`port ${port}\n`);
process.on('SIGTERM', () => {
  process.stdout.write(`events ${events}\n`);
  void server.close().then(() => process.exit(0));
});
