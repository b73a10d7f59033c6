export { ResultsReader, ResultsStore, type LatestWindow } from './results-store.js';
