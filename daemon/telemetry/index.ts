export * from './events.js';
export { LogEvent, logEvent, type EventLogger, type Level } from './log-event.js';
export { SampledEvent, type SampledEventSpec } from './sampled-event.js';
export { apiStats, METRICS, METRICS_ONLY, type ApiStats, type MetricSpec, type Stats } from './stats.js';
export { renderMetrics } from './prometheus.js';
export { memoryUsage } from './memory.js';
