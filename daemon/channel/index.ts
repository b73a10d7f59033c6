export { MemoryChannel } from './memory-channel.js';
export { batchFromLines, eventBody, type EventBatch } from './event-batch.js';
export * from './avro/index.js';
