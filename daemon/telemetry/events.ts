import { SampledEvent, type SampledEventSpec } from './sampled-event.js';

/**
 * The internal events that may come in floods, each declared once: its log line, its level,
 * how often it is logged, and the reasons it is counted by.
 */
const AVRO_CONNECTION_REFUSED_BY_IP_FILTER = {
  level: 'warn',
  message: 'avro connection refused by ipFilterRules',
  reasons: ['ipFilter'],
  logEvery: 100,
} as const satisfies SampledEventSpec<'ipFilter'>;

const AVRO_CONNECTION_REFUSED_BY_LIMIT = {
  level: 'warn',
  message: 'avro connection refused: too many connections',
  reasons: ['maxConnections'],
  logEvery: 100,
} as const satisfies SampledEventSpec<'maxConnections'>;

/** An avro source answered FAILED: the call was larger than a transaction, or the channel stayed full. */
const AVRO_CALL_REFUSED = {
  level: 'warn',
  message: 'avro source answered FAILED',
  reasons: ['transactionCapacity', 'channel'],
  logEvery: 100,
} as const satisfies SampledEventSpec<'transactionCapacity' | 'channel'>;

export const avroConnectionRefusedByIpFilter = () => new SampledEvent(AVRO_CONNECTION_REFUSED_BY_IP_FILTER);
export const avroConnectionRefusedByLimit = () => new SampledEvent(AVRO_CONNECTION_REFUSED_BY_LIMIT);
export const avroCallRefused = () => new SampledEvent(AVRO_CALL_REFUSED);
