export { POSITION_HEADER } from '../channel/position-header.js';
export { SpoolDirSource } from './spooldir-source.js';
export type { SourcePositions } from './source-positions.js';
export { LineScanner } from './line-scanner.js';
export { FILE_STATES, type FileCounts, type FileState, type FileStatus } from './file-registry.js';
export { AvroSource } from './avro-source.js';
export { TaildirSource, TaildirSettingError, TAIL_STATES, type FollowedView, type TailState } from './taildir/index.js';
