export { loadAgentConfig, parseAgentConfig } from './agent-config.js';
export type {
  AgentConfig,
  AvroSinkConfig,
  HttpConfig,
  MemoryChannelConfig,
  SpoolDirSourceConfig,
  TimestampInterceptorConfig,
  UrlWindowJobConfig,
} from './agent-config.js';
export { parseProperties } from './properties.js';
