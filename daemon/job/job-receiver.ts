import path from 'node:path';
import { AvroReader, AvroRpcServer, DecodedEvents, type Status } from '../avro/index.js';
import { decodeEvent, decodeEventArray, type EventDecodeOptions } from '../avro/flume-event-codec.js';
import { POSITION_HEADER } from '../channel/position-header.js';
import type { Logger } from '../log.js';
import type { UrlWindowJobConfig } from './url-window-config.js';
import { WriteAheadLog, type TornTail } from './write-ahead-log.js';
import { walTornTail } from '../telemetry/index.js';

/** A WAL record's first byte: the call it holds (`appendBatch`, or `append` of one event). */
const WAL_KIND_ARRAY = 1;
const WAL_KIND_SINGLE = 2;

/** Where the receiver's decoded events go (once per call, not per event). */
export interface EventSink {
  count(events: DecodedEvents): void;
  /** False while events are to be refused (results wait for a failed store): the sender keeps them and resends. */
  accepting(): boolean;
}

/**
 * The job's input: the Avro RPC server, whose calls arrive decoded (`DecodedEvents`), and
 * the write-ahead log. Events from a source of this process go straight to counting (the
 * source's files replay them after a crash); events from other processes are appended to
 * the log first and synced before the sender hears OK. At start the log is replayed from
 * the segment the checkpoint names; each checkpoint cuts a new segment (`cutForCheckpoint`).
 */
export class JobReceiver {
  readonly #server: AvroRpcServer;
  readonly #sink: EventSink;
  readonly #walDir: string;
  readonly #log: Logger;
  #wal: WriteAheadLog | undefined;
  /** Whether the current segment has records: a checkpoint then starts a new one. */
  #walAppended = false;
  readonly #localSources = new Set<string>();
  readonly #decodeOpts: EventDecodeOptions = {
    timestampHeader: Buffer.from('timestamp'),
    positionHeader: Buffer.from(POSITION_HEADER),
    idHeader: Buffer.from('id'),
    maxEvents: 1_000_000,
  };

  constructor(config: UrlWindowJobConfig, sink: EventSink, log: Logger) {
    this.#sink = sink;
    this.#log = log;
    this.#walDir = path.join(config.checkpointDir, 'wal');
    this.#server = new AvroRpcServer(
      {
        bind: config.bind,
        port: config.port,
        logger: log,
        maxConnections: config.maxConnections,
        idleTimeoutMs: config.idleTimeoutMs,
        maxFrameBytes: config.maxFrameBytes,
        compressionType: config.compressionType,
        // The worker gets the keystore as a Uint8Array (structured clone), which TLS accepts.
        ...(config.tls && { tls: config.tls }),
        ipFilterRules: config.ipFilterRules,
      },
      (events) => this.#receive(events),
    );
  }

  get port(): number {
    return this.#server.port;
  }

  get refusedConnections(): { readonly ipFilter: number; readonly maxConnections: number } {
    return this.#server.refusedConnections;
  }

  /** Sources in this process: their events need no write-ahead log (the files replay them). */
  addLocalSource(sourceId: string): void {
    this.#localSources.add(sourceId);
  }

  /**
   * Counts the log's events from segment `seq` on (those the checkpoint does not hold), then
   * opens it for appending; returns the events replayed. `named`: a checkpoint names `seq`.
   *
   * Appends go on in the last segment (a torn record at its end cut off first), not in a new
   * one: so the newest segment is always one a checkpoint names, and its loss is seen at the
   * next start (a new segment per start was not named anywhere: deleted, it lost its events
   * in silence). The next checkpoint starts a new segment if this one held replayed events.
   */
  replayWal(seq: number, named: boolean): number {
    let replayed = 0;
    let torn: TornTail | undefined;
    const onTorn = (t: TornTail) => {
      torn = t;
      walTornTail.emit(this.#log, t);
    };
    for (const record of WriteAheadLog.replay(this.#walDir, seq, named, onTorn)) replayed += this.#replay(record);
    if (torn) WriteAheadLog.cutOff(torn);
    this.#wal = new WriteAheadLog(this.#walDir, Math.max(seq, WriteAheadLog.lastSegment(this.#walDir)));
    this.#walAppended = replayed > 0;
    return replayed;
  }

  listen(): Promise<number> {
    return this.#server.listen();
  }

  /** Stops receiving (calls in progress end first). */
  close(): Promise<void> {
    return this.#server.close();
  }

  closeWal(): void {
    this.#wal?.close();
  }

  /** The segment a checkpoint records: records from it on are not in that checkpoint (a new one if the current has records). */
  cutForCheckpoint(): number {
    const seq = this.#walAppended ? this.#wal!.rotate() : this.#wal!.seq;
    this.#walAppended = false;
    return seq;
  }

  /** Segments below `seq` are in a committed checkpoint. */
  deleteBefore(seq: number): void {
    this.#wal!.deleteBefore(seq);
  }

  #replay(record: Buffer): number {
    const events = new DecodedEvents();
    events.reset(record);
    const r = new AvroReader(record, 1);
    if (record[0] === WAL_KIND_SINGLE) decodeEvent(r, events, this.#decodeOpts);
    else decodeEventArray(r, events, this.#decodeOpts);
    this.#sink.count(events);
    return events.count;
  }

  #receive(ev: DecodedEvents): Status | Promise<Status> {
    if (!this.#sink.accepting()) return 'FAILED';
    const local = this.#isLocal(ev);
    if (!local && this.#wal && ev.count > 0) {
      const kind = Buffer.from([ev.single ? WAL_KIND_SINGLE : WAL_KIND_ARRAY]);
      this.#wal.append(Buffer.concat([kind, ev.data.subarray(ev.encodedStart, ev.encodedEnd)]));
      this.#walAppended = true;
    }
    this.#sink.count(ev);
    if (local || !this.#wal) return 'OK';
    return this.#wal.sync().then(() => 'OK' as const);
  }

  /** A call from a source of this process: its first event's position names it. */
  #isLocal(ev: DecodedEvents): boolean {
    if (ev.count === 0 || ev.posStarts[0] === -1) return false;
    const dash = ev.data.indexOf(45, ev.posStarts[0]);
    return dash > 0 && dash < ev.posEnds[0]! && this.#localSources.has(ev.data.toString('latin1', ev.posStarts[0], dash));
  }
}
