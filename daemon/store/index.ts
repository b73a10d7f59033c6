export { ResultsReader, ResultsStore, type LatestTop, type LatestWindow } from './results-store.js';
export { decodeCounts, decompose, encodeCounts, HistoryReader, type RangeTop } from './history.js';
export type { BatchResult, WindowResult, WindowResultSink } from './window-results.js';
