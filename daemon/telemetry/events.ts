import { SampledEvent } from './sampled-event.js';

/**
 * The internal events that may come in floods, each declared once: its log line and the
 * reasons it is counted by. All are warnings, logged for the first of every hundred.
 */
function declare<R extends string>(message: string, reasons: readonly R[]): () => SampledEvent<R> {
  return () => new SampledEvent({ level: 'warn', message, reasons, logEvery: 100 });
}

export const avroConnectionRefusedByIpFilter = declare('avro connection refused by ipFilterRules', ['ipFilter']);
export const avroConnectionRefusedByLimit = declare('avro connection refused: too many connections', ['maxConnections']);
/** An avro source answered FAILED: the call was larger than a transaction, or the channel stayed full. */
export const avroCallRefused = declare('avro source answered FAILED', ['transactionCapacity', 'channel']);
