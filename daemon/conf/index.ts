export { parseProperties, type Property } from './properties.js';
export { PropertyReader } from './reader.js';
export type { ReadContext } from './read-context.js';
