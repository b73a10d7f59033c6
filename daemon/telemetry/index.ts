export * from './events.js';
export { SampledEvent, type SampledEventSpec } from './sampled-event.js';
export { apiStats, METRICS, METRICS_ONLY, type ApiStats, type MetricSpec, type Stats } from './stats.js';
export { renderMetrics } from './prometheus.js';
