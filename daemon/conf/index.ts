export { loadAgentConfig, parseAgentConfig } from './agent-config.js';
export type {
  AgentConfig,
  AvroSinkConfig,
  AvroSourceConfig,
  ChannelConfig,
  FileChannelConfig,
  HttpConfig,
  MemoryChannelConfig,
  SpoolDirSourceConfig,
  InterceptorConfig,
  TimestampInterceptorConfig,
  UrlWindowJobConfig,
} from './agent-config.js';
export { parseProperties } from './properties.js';
