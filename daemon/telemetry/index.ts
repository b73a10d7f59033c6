export * from './events.js';
export { SampledEvent, type SampledEventSpec } from './sampled-event.js';
