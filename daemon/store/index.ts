export { ResultsReader, ResultsStore, type LatestWindow } from './results-store.js';
export { decodeCounts, decompose, encodeCounts, HistoryReader, type RangeTop } from './history.js';
