export { AvroRpcClient, type AvroRpcClientOptions } from './rpc-client.js';
export { AvroRpcServer, type AvroRpcServerOptions, type EventHandler } from './rpc-server.js';
export { DecodedEvents, encodeAppendBatchFrame, readEventObject, type FlumeEvent } from './flume-event-codec.js';
export { NettyFrameDecoder, encodeFrame } from './netty-framing.js';
export { AvroReader } from './binary.js';
export { FLUME_PROTOCOL, FLUME_PROTOCOL_HASH, FLUME_PROTOCOL_JSON, STATUS, type Status } from './protocol.js';
export { COMPRESSION_TYPES, DEFAULT_COMPRESSION_LEVEL, type CompressionType } from './deflate-wire.js';
export { ipAllowed, parseIpFilterRules, type IpFilterRule } from './ip-filter.js';
