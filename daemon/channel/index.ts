export { MemoryChannel } from './memory-channel.js';
export { FileChannel } from './file-channel.js';
export type { Channel } from './channel.js';
export { batchFromLines, eventBody, type EventBatch } from './event-batch.js';
export { encodePosition, parsePosition, POSITION_HEADER, type Position } from './position-header.js';
