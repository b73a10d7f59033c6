export { BatchCounts } from './batch-counts.js';
export { CountsCursor, countOfUrl, decodeCounts, encodeCounts, encodeInterned, type UrlBytes } from './counts-codec.js';
export { compareUrlCounts, topK, type UrlCount } from './top-k.js';
export { UrlInterner } from './url-interner.js';
export { SlidingWindow, type SlotCounts } from './sliding-window.js';
