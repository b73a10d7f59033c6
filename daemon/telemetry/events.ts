import path from 'node:path';
import { logEvent } from './log-event.js';
import { SampledEvent } from './sampled-event.js';

/**
 * Every internal event, declared once: its level, its log line and its fields' type.
 * A component emits it (`event.emit(log, fields)`), which writes the line and counts it.
 */

type Err = { readonly err: unknown };
type Peer = { readonly peer: string };

/**
 * The events that may come in floods, with the reasons they are counted by (/metrics).
 * All are warnings, logged for the first of every hundred.
 */
function declare<R extends string>(message: string, reasons: readonly R[]): () => SampledEvent<R> {
  return () => new SampledEvent({ level: 'warn', message, reasons, logEvery: 100 });
}

export const avroConnectionRefusedByIpFilter = declare('avro connection refused by ipFilterRules', ['ipFilter']);
/** At maxConnections, the connection silent longest (no whole frame) is closed for the new one. */
export const avroConnectionRefusedByLimit = declare('avro connections at maxConnections: the one silent longest is closed for the new one', ['maxConnections']);
export const httpConnectionRefusedByLimit = declare('http connections at a1.http.maxConnections: the one idle longest is closed for the new one', ['maxConnections']);
/** An avro source answered FAILED: the call was larger than a transaction, or the channel stayed full. */
export const avroCallRefused = declare('avro source answered FAILED', ['transactionCapacity', 'channel']);

// The process (main.ts, agent.ts)
export const flumeSettingsIgnored = logEvent<{ keys: readonly string[] }>('warn', (f) => `Flume settings with no effect in logflow: ${f.keys.join(', ')}`);
export const startupFailed = logEvent<{ err: { message: string; code: string | undefined } }>('fatal', 'start-up failed');
export const fdHeadroomLow = logEvent<{ openFileLimit: number; needed: number; caps: Record<string, number>; reserve: number }>('warn', (f) =>
  `the open-file limit (ulimit -n) is ${f.openFileLimit}, below the ${f.needed} descriptors the connection caps allow (${Object.entries(f.caps).map(([k, v]) => `${k} = ${v}`).join(', ')}, plus ${f.reserve} for files and databases): a flood of connections could take every descriptor; lower those keys or raise the limit (systemd LimitNOFILE=, docker run --ulimit nofile=, ulimit -n)`);
export const agentStarted = logEvent<{ agent: string; conf: string }>('info', 'agent started');
/** Logged last at start: scripts and tests take this line to mean the whole pipeline runs. */
export const httpListening = logEvent<{ address: string | undefined; httpThread: number | undefined; pipelineNice: number | undefined }>('info', 'http listening');
export const secondSignal = logEvent<{ signal: string }>('warn', 'second signal: exiting at once');
export const shuttingDown = logEvent<{ signal: string }>('info', 'shutting down');
export const stoppedCleanly = logEvent('info', 'stopped cleanly');
export const shutdownFailed = logEvent<Err>('error', 'shutdown failed');

// Sources
export const sourceIdNotKept = logEvent<{ file: string; sourceId: string }>(
  'warn',
  (f) => `the source's id ${f.sourceId} could not be kept in ${f.file}: it is made again from the host name at each start, so another host name makes another id (set sourceId to fix it)`,
);
export const avroSourceListening = logEvent<{ bind: string; port: number; compression: string }>('info', 'avro source listening');
export const spoolWatchFailed = logEvent<Err>('error', 'spool directory watch failed');
export const spoolWatchPauseFailed = logEvent<Err>('error', 'pausing the spool directory watch failed');
export const spoolListingFailed = logEvent<Err & { spoolDir: string }>('debug', 'listing the spool failed; retried at the next poll');
export const spoolWatchResumeFailed = logEvent<Err>('error', 'watching the spool directory again failed');
export const spoolNotRegularFile = logEvent<{ file: string; kind: string }>('warn', 'not a regular file: skipped');
export const watchingSpoolDir = logEvent<{ spoolDir: string }>('info', 'watching spool directory');
export const fileStarted = logEvent<{ file: string; key: string; bytes: number; resumeAt: number; gzip: boolean }>('info', 'file started');
export const fileResumed = logEvent<{ file: string; key: string; bytes: number; resumeAt: number; gzip: boolean }>('info', 'file resumed');
export const fileReadToEnd = logEvent<{ file: string; readMs: number }>('debug', 'file read to its end');
export const fileOpenDeferred = logEvent<{ file: string; err: string; retryInMs: number }>('warn', 'file could not be opened: no descriptor left (a flood of connections?); tried again later');
export const fileRemovedBeforeRead = logEvent<{ file: string }>('info', 'file removed before it was read');
export const fileStillWritten = logEvent<{ file: string; from: number; to: number }>('info', 'file still being written: reading on');
export const fileChangedWhileRead = logEvent<{ file: string; bytesRead: number; reason?: string; before?: number; after?: number }>('error', 'file changed while it was read');
export const fileAlreadyCounted = logEvent<{ file: string; duplicateOf: string; renamedTo: string | undefined }>('warn', 'file already counted (same content): not counted again');
export const invalidUtf8Stop = logEvent<{ file: string; line: number; offset: number }>('error', 'invalid UTF-8: the rest of the file is not read');
export const invalidUtf8 = logEvent<{ file: string; line: number; offset: number; decodeErrorPolicy: string }>('warn', 'invalid UTF-8');
export const fileRemovedWhileRead = logEvent<{ file: string }>('warn', 'removed from the spool directory while it was read; all of it was read');
type FileDone = { file: string; lines: number; truncatedLines: number; parseErrors: number | undefined; decodeErrors: number | undefined; ms: number };
export const fileCompleted = logEvent<FileDone>('info', 'file completed');
export const fileEndedEarly = logEvent<FileDone>('info', 'file ended early');
export const fileRenamedOnFinish = logEvent<{ file: string; renamedTo: string }>('warn', (f) => `a file named ${path.basename(f.file)} was finished before; this one is renamed ${path.basename(f.renamedTo)}`);
export const fileMostlyUnparsed = logEvent<{ file: string; logFormat: string; lines: number; parseErrors: number | undefined; samples: unknown }>('warn', 'most lines of the file did not parse: wrong logFormat?');
export const fileFailed = logEvent<{ file: string; reason: string }>('error', 'file failed');
/** A file the spool source finished (renamed or deleted) grew afterwards: its writer went on, and those bytes are not counted. */
export const spoolFileWrittenAfterFinish = logEvent<{ file: string; bytesNotCounted: number; bytesCounted: number; renamedTo: string | undefined }>(
  'warn',
  (f) => `${path.basename(f.file)} was written to after the spool source finished it: ${f.bytesNotCounted} bytes were not counted (the spool is for finished files; follow a live log with a TAILDIR source)`,
);

// The TAILDIR source (source/taildir/)
export const tailFollowing = logEvent<{ groups: readonly string[]; files: number; positionFile: string }>('info', 'following files');
export const tailFileFollowed = logEvent<{ file: string; from: string; resumeAt: number; size: number; epoch: number | undefined }>('info', 'following file');
export const tailFileRenamed = logEvent<{ file: string; renamedTo: string | undefined }>('info', (f) => f.renamedTo ? 'followed file renamed' : 'followed file renamed to a name no file group matches: reading it to its end');
export const tailFileDeleted = logEvent<{ file: string }>('info', 'followed file deleted: reading it to its end');
export const tailFileStartedOver = logEvent<{ file: string; reason: string; unreadBytes: number | undefined }>('warn', 'followed file truncated or rewritten: following it again from its start');
export const tailFileClosed = logEvent<{ file: string; position: number; state: string }>('info', 'followed file idle: closed');
export const tailLastLineTaken = logEvent<{ file: string; bytes: number }>('info', 'the last line of a file left for good has no line feed: taken as it is');
export const tailCopySkipped = logEvent<{ file: string; copyOf: string }>('info', 'compressed copy of a followed file: not read again');
export const tailCopyContinued = logEvent<{ file: string; resumeAt: number }>('info', 'compressed copy of a file counted before: reading what was not counted');
export const tailGzipRead = logEvent<{ file: string; lines: number; bytes: number }>('info', 'compressed file read to its end');
export const tailFileUnreadable = logEvent<{ file: string; reason: string }>('warn', 'file of a file group cannot be followed');
export const tailNotRegularFile = logEvent<{ file: string; kind: string }>('warn', 'not a regular file: not followed');
export const tailHardLinkSkipped = logEvent<{ file: string; followedAs: string }>('info', 'another name (a hard link) of a followed file: followed once, under its first name');
export const tailReadFailed = logEvent<Err & { file: string }>('error', 'reading a followed file failed');
export const tailWatchFailed = logEvent<Err>('error', 'watching the file groups failed; polling goes on (pollDelay)');
export const tailPositionFileUnreadable = logEvent<{ file: string; reason: string }>('warn', 'position file unreadable: not used (positions come from the checkpoint)');
export const tailPositionWriteFailed = logEvent<Err & { file: string }>('error', 'writing the position file failed; retried at the next writePosInterval');
export const tailKeyForgotten = logEvent<{ key: string; position: number }>('debug', 'position of a file gone (and its copies) forgotten');
/** A counted file could not be finished: its record (trackerDir/files.db) not written, or it not renamed (a full or read-only spool, no access). */
export const fileFinishFailed = logEvent<Err & { file: string; step: 'record' | 'rename' }>('error', (f) =>
  `finishing the file failed: ${f.step === 'record' ? 'its record could not be written' : 'it could not be renamed'}; it stays counted under its name and is retried every second`);
export const fileFinishingWorksAgain = logEvent<{ failedAttempts: number }>('warn', 'finishing files works again');

// Channels
export const fileChannelOpened = logEvent<{ events: number; batches: number; segments: number }>('info', 'file channel opened');
export const fileChannelWriteFailed = logEvent<Err>('error', 'file channel write failed; the puts are refused');
export const fileChannelTornRecord = logEvent<{ file: string; at: number; bytes: number; last: boolean }>('warn', 'file channel: torn or corrupt record at the end of a data file; cut off');
export const fileChannelCheckpointFailed = logEvent<Err>('error', 'file channel checkpoint failed; committed batches may be delivered again after a restart');
export const fileChannelFileDeleted = logEvent<{ file: string }>('debug', 'file channel: data file fully taken; deleted');

// Avro RPC (the job's receiver and avro sources)
export const avroTlsHandshakeFailed = logEvent<Peer & { err: string }>('warn', 'avro TLS handshake failed (does the client have ssl = true, and trust this certificate?)');
export const avroConnectionIdle = logEvent<Peer>('info', 'avro connection idle too long; closed');
export const avroAcceptFailed = logEvent<{ err: string }>('error', 'avro receiver: accepting a connection failed (no descriptor left?); accepting goes on');
export const avroNotDeflate = logEvent<Peer & { err: string }>('warn', 'avro connection closed: the client does not send deflate (set compression-type = deflate on the sender, or remove it here)');
export const avroConnectionError = logEvent<Peer & { err: string }>('debug', 'avro connection error');
export const avroHandlerFailed = logEvent<Peer & Err>('error', 'event handler failed; answering FAILED');
export const avroUnknownMessage = logEvent<Peer & { message: string }>('warn', 'avro call of an unknown message');
export const avroProtocolError = logEvent<Peer & { err: string }>('warn', 'closing avro connection after a protocol error');

// Sinks (a failure is logged at warn the first time and every 50th, else at debug)
type Recovered = { after: number };
type DeliveryFailed = { err: string; retryInMs: number; attempt: number };
export const avroSinkDeliveringAgain = logEvent<Recovered>('info', 'avro sink delivering again');
export const avroSinkDeliveryFailed = logEvent<DeliveryFailed>('warn', 'avro sink delivery failed; retrying');
export const jetstreamSinkDeliveringAgain = logEvent<Recovered>('info', 'jetstream sink delivering again');
export const jetstreamSinkPublishFailed = logEvent<DeliveryFailed>('warn', 'jetstream sink publish failed; retrying');

// The JetStream bus
/** A jetstream sink on a memory channel: a batch resent after a crash is dropped only within the stream's duplicate window. */
export const edgeNotExactBeyondWindow = logEvent<{ channel: string; duplicateWindowS: number }>(
  'warn',
  (f) => `channel ${f.channel} is a memory channel: after a crash this edge resends what it had not seen acknowledged, and the stream drops a repeat only within its duplicate window (${f.duplicateWindowS} s); a file channel makes the edge exactly once whatever the downtime`,
);
export const edgeSubjectResumed = logEvent<{ subject: string; seq: number; channelId: string | null }>('info', 'resuming after the last message stored on the subject');
export const streamCreated = logEvent<{ stream: string; subjects: string; replicas: number }>('info', 'stream created');
/**
 * A stream or bucket with one replica on a clustered NATS: one server's disk holds it. (All
 * replicas failing at once is NATS's to survive: its servers acknowledge before their store
 * reaches the disk unless `sync_interval: always`, see docs/scaling-out.md.)
 */
export const streamUnreplicated = logEvent<{ stream: string; cluster: string; key: string }>(
  'warn',
  (f) => `${f.stream} has 1 replica on the NATS cluster ${f.cluster}: it lives on one server's disk, and goes with it (set ${f.key} = 3 before it is created, or raise it with nats stream edit)`,
);
export const busReaderRetrying = logEvent<Err & { stream: string; subject: string }>('debug', 'reader failed; retrying');

// The job (main thread side, and its thread)
export const jobFailed = logEvent<{ err: string; code: string | undefined; key: string | undefined }>('error', 'job failed');
export const jobThreadCrashed = logEvent<Err>('fatal', 'job thread crashed');
export const jobStopTimedOut = logEvent<{ afterMs: number }>('error', 'job did not stop in time; ending its thread');
export const resultsDatabaseMigrated = logEvent<{ database: string; fromVersion: number; toVersion: number }>('warn', (f) => `results database migrated from schema ${f.fromVersion} to ${f.toVersion}`);
export const resultsDatabaseRestored = logEvent<{ database: string }>('error', 'the results database was deleted while the daemon ran: written back from the open connection, with all its history');
export const resultsDatabaseReplaced = logEvent<{ database: string }>('error', 'the results database was replaced by another file while the daemon ran: it goes on writing the one it opened (whose rows are lost when it stops); stop it to take the new file');
export const historyRolledBack = logEvent<{ rows: number; checkpointSeq: number }>('warn', 'history: rows written after the last checkpoint undone; their lines are counted again');
export const resultsWriteFailed = logEvent<Err & { waiting: number }>('error', 'writing results failed; counting goes on, results and checkpoints wait and are retried every batch interval');
export const resultsWrittenAgain = logEvent<{ failedAttempts: number; written: number }>('warn', 'results written again; the waiting ones are stored');
export const resultsDatabaseUnreachable = logEvent<{ database: string; err: string; retryInMs: number; attempt: number }>('warn', 'results database not reachable; results wait in order, reconnecting');
export const resultsDatabaseReachable = logEvent<{ database: string; attempts: number }>('info', 'results database reachable again');
export const resultsDatabaseRefused = logEvent<{ database: string; err: string; retryInMs: number }>('error', 'results database refused the daemon (see err: fix the setting or the server); results wait, retrying');
export const eventsRefusedResultsWaiting = logEvent<{ waiting: number }>('warn', 'results wait for the database: events are refused until they are written (the channel and the spool hold them)');
export const rollupFailed = logEvent<Err>('error', 'rolling up the history failed; retried every batch interval');
export const checkpointDiscarded = logEvent<{ checkpointDir: string }>('warn', 'checkpoint discarded (--reset-checkpoint)');
export const avroReceiverListening = logEvent<{ bind: string; port: number }>('info', 'avro receiver listening');
export const noFinalCheckpoint = logEvent('error', 'no final checkpoint (see the errors above); a restart recounts from the last one');
export const resumedFromCheckpoint = logEvent<{ checkpointSeq: number | undefined; slots: number; openSlots: number; files: number; walEventsReplayed: number; ms: number }>('info', 'resumed from checkpoint');
export const checkpointMigrated = logEvent<{ checkpointDir: string; fromFormat: number; toFormat: number; slots: number; openBatches: number }>('warn', (f) => `checkpoint migrated from format ${f.fromFormat} to ${f.toFormat}`);
export const unparsedLineSample = logEvent<{ line: string; file: string | undefined }>('debug', 'not an access-log line (sample)');
export const closingBatchFailed = logEvent<Err>('error', 'closing a batch failed; retrying next batch interval');
/** The write-ahead log's last record was cut short: a crash in the middle of an append (never answered OK), or a file cut by someone. */
export const walTornTail = logEvent<{ file: string; at: number; bytes: number }>('error', (f) =>
  `write-ahead log: the last record of ${path.basename(f.file)} is cut short (${f.bytes} bytes at byte ${f.at}), and is dropped: a crash in the middle of an append leaves this (that record was never answered OK), but if the file was cut, events answered OK are lost`);
export const checkpointFailed = logEvent<Err & { checkpointDir: string }>('error', 'checkpoint failed; counting goes on, files are finished once a checkpoint succeeds; retrying every batch interval');
export const checkpointWrittenAgain = logEvent<{ failedAttempts: number }>('warn', 'checkpoint written again');

// The JetStream cluster: counters, merge workers, the query node's input
export const waitingForStream = logEvent<{ stream: string }>('info', 'waiting for the stream (another tier creates it)');
export const clusterSettingsMismatch = logEvent<{ err: string; key: string | undefined }>('error', (f) => `not running: ${f.err}`);
export const partitionTaken = logEvent<{ resumeAfter: number; pending: number | null }>('info', 'partition taken');
export const partitionFenced = logEvent('warn', 'another counter wrote this partition\'s progress; letting it go');
export const partitionGap = logEvent<{ covered: number; missingFrom: number; missingTo: number }>(
  'error',
  (f) => `events ${f.missingFrom}-${f.missingTo} were removed from the stream before this partition counted them (its limits: maxAge, maxMsgs or maxBytes with discard old); the partition is stopped, nothing past the gap is counted (see docs/scaling-out.md, "Retention, gaps and trimming")`,
);
export const gapAccepted = logEvent<{ from: number; to: number; notCounted: string }>('warn', (f) => `gap accepted by an operator: ${f.notCounted} are not counted; counting goes on after ${f.to}`);
export const oversizedUrls = logEvent<{ lines: number; maxBytes: number }>('warn', 'URLs longer than a message can hold, counted as parse errors');
export const partialPublishFailed = logEvent<{ err: string; attempt: number }>('warn', 'publishing a partial failed; retrying every batch interval');
export const counterStarted = logEvent<{ servers: readonly string[]; partitions: number }>('info', 'counter started');
export const clusterRunningAgain = logEvent<{ after: number }>('info', 'running again');
export const counterTickFailed = logEvent<{ err: string }>('warn', 'counter tick failed; retrying');
export const counterConnected = logEvent<{ servers: readonly string[]; partitions: number }>('info', 'counter connected');
export const leaseLost = logEvent<{ partition?: number; shard?: number }>('warn', 'lease lost');
export const partitionReleased = logEvent<{ partition: number }>('info', 'partition released');
export const eventsTrimmed = logEvent<{ stream: string; messages: number; below: number }>('debug', 'stream trimmed');
export const mergeStarted = logEvent<{ servers: readonly string[]; shards: number }>('info', 'merge worker started');
export const mergeConnected = logEvent<{ servers: readonly string[]; shards: number }>('info', 'merge worker connected');
export const mergeTickFailed = logEvent<{ err: string }>('warn', 'merge worker tick failed; retrying');
export const shardTaken = logEvent<{ shard: number; resumeAfter: number; replayFrom: number; windowRows: number }>('info', 'shard taken');
export const shardReleased = logEvent<{ shard: number }>('info', 'shard released');
export const shardFenced = logEvent<{ shard: number }>('warn', 'another merge worker published this shard\'s state; letting it go');
export const shardGap = logEvent<{ shard: number; seq: number; partition: number; after: number; covered: number }>(
  'error',
  (f) => `partition ${f.partition}'s partial after ${f.after} does not follow the last one applied (${f.covered}): partials were removed from the counts stream before this shard read them (its maxAge?); shard ${f.shard} is stopped (see docs/scaling-out.md, "Retention, gaps and trimming")`,
);
export const shardReplayGap = logEvent<{ shard: number; replayFrom: number; firstSeq: number }>(
  'error',
  (f) => `shard ${f.shard}'s open batches were made from partials ${f.replayFrom} on, and the counts stream starts at ${f.firstSeq} now (its maxAge?): they cannot be rebuilt, and the shard is stopped (keep countsMaxAge above a merge worker's longest outage, or unset: merge workers trim the stream themselves)`,
);
export const shardGapAccepted = logEvent<{ shard: number; partition: number; after: number }>('warn', (f) => `gap accepted by an operator: shard ${f.shard} goes on with partition ${f.partition} after ${f.after}; what the lost partials held is not counted`);
export const notAPartialCount = logEvent<{ seq: number; err: string }>('error', 'not a partial count; skipped');
export const resultsPublishFailed = logEvent<{ shard: number; err: string; attempt: number }>('warn', 'publishing merge results failed; retrying every batch interval');
export const readingMergeResults = logEvent<{ from: number }>('info', 'reading merge results');
export const resultsStreamUnreachable = logEvent<{ err: string }>('warn', 'results stream not reachable; retrying');
export const notAMergeResult = logEvent<{ seq: number; err: string }>('error', 'not a merge result; skipped');
export const mergeResultsExpired = logEvent<{ from: number; firstSeq: number }>('warn', 'merge results expired before this query node read them (the results stream\'s maxAge): history before them is incomplete');

// HTTP
export const httpThreadCrashed = logEvent<Err>('fatal', 'http thread crashed');
export const queryThreadCrashed = logEvent<Err>('error', 'http: a query thread failed; its query is answered 500, another thread takes its place');
export const httpAcceptFailed = logEvent<{ err: string }>('error', 'http: accepting a connection failed (no descriptor left?); accepting goes on');
export const pipelineAnswerFailed = logEvent<Err & { what: string }>('error', 'http: the pipeline could not answer');
export const streamResultsFailed = logEvent<Err>('warn', 'stream: reading the results failed');
export const dashboardAssetsMissing = logEvent<{ err: { message: string } }>('error', 'dashboard assets not found; / is not served');
export const requestFailed = logEvent<Err>('error', 'request failed');
