export { POSITION_HEADER, SpoolDirSource, type SourcePositions } from './spooldir-source.js';
export { LineScanner } from './line-scanner.js';
export { FILE_STATES, type FileCounts, type FileState, type FileStatus } from './file-registry.js';
export { AvroSource } from './avro-source.js';
