export { ResultsReader, ResultsStore, type LatestWindow } from './results-store.js';
export { decompose, HistoryReader, type RangeTop } from './history.js';
