export { ResultsReader, ResultsStore, type LatestWindow } from './results-store.js';
export { decodeCounts, decompose, encodeCounts, HistoryReader, type RangeTop } from './history.js';
export type { BatchResult, ResultItem, WindowResult, WindowResultSink } from './window-results.js';
export { ALL_INSTANCES, type LatestTop, type ResultsQueries, type SeriesPoint } from './results-queries.js';
export { SqliteQueries } from './sqlite-queries.js';
export { openQueries } from './open-store.js';
