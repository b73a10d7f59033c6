export { DirLock } from './dir-lock.js';
export { syncDirectory, syncDirectoryAsync, writeFileAtomic, writeFileAtomicAsync } from './atomic-file.js';
export { RECORD_HEADER_BYTES, RecordLog, type ByteOrder, type RecordLogFormat, type SegmentEnd, type SegmentHeader } from './record-log.js';
export { crashPoint, CRASH_POINTS, type CrashPoint } from './crash-points.js';
