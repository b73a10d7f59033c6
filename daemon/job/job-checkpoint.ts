import type { Logger } from '../log.js';
import { CheckpointStore } from './checkpoint-store.js';
import { CHECKPOINT_FORMAT, type LoadedCheckpoint, type SegmentRef } from './checkpoint-manifest.js';
import type { CountedPositions } from './counted-positions.js';
import { Histogram, type HistogramSnapshot } from '../telemetry/histogram.js';
import type { JobCounters, JobStats } from './job-stats.js';
import type { OpenBatches } from './open-batches.js';
import type { WindowSet } from '../counts/window-set.js';
import type { TimeMode } from './time-mode.js';
import type { UrlWindowJobConfig } from './url-window-config.js';
import { checkpointFailed, checkpointMigrated, checkpointWrittenAgain, historyRolledBack, resumedFromCheckpoint } from '../telemetry/index.js';

/** Open batches whose checkpointed counts are at most this many bytes keep them (`savedBytes`). */
const KEEP_SAVED_BYTES = 64 * 1024;

/** The write-ahead log as a checkpoint uses it (the receiver's). */
export interface CheckpointedWal {
  /** The segment the checkpoint records: records from it on are not in the checkpoint. */
  cutForCheckpoint(): number;
  /** Segments below `seq` are in a committed checkpoint. */
  deleteBefore(seq: number): void;
}

/** The results as a checkpoint uses them (the outbox): the epoch it covers. */
export interface CheckpointedResults {
  /**
   * Ends the current epoch and returns it: the history rows written so far belong to it,
   * the ones written from now on to the next. Called as a checkpoint is about to be written,
   * which then records it: if that checkpoint reaches the disk at all (even when its commit
   * throws after the manifest's rename), no later row is taken for covered by it.
   */
  endEpoch(): number;
  /** A checkpoint covering epochs up to `epoch` committed. */
  committed(epoch: number): void;
  /** At start: undoes the history rows of epochs after `covered`; returns how many (once a server's store reached it: a promise). */
  restore(covered: number | undefined): number | Promise<number>;
}

/** The job's state a checkpoint holds, each part owned by its module. */
export interface CheckpointedParts {
  readonly window: WindowSet;
  readonly open: OpenBatches;
  readonly time: TimeMode;
  readonly positions: CountedPositions;
  readonly counters: JobCounters;
  readonly results: CheckpointedResults;
}

/**
 * Checkpoint and restore: commits the window, the open batches, the positions and the
 * counters together (`CheckpointStore`), when anything changed since the last; restores
 * them at start. A checkpoint that fails (disk full, directory gone) is retried every
 * batch interval; counting goes on meanwhile, and files are finished only once one succeeds.
 */
export class JobCheckpoint {
  readonly #config: UrlWindowJobConfig;
  readonly #parts: CheckpointedParts;
  readonly #log: Logger;
  #store: CheckpointStore | undefined;
  /**
   * Closed slots of the window already in a checkpoint segment, with the total they had
   * then (a slot an early firing's update added to is written again).
   */
  readonly #slotRefs = new Map<number, { ref: SegmentRef; total: number }>();
  #changed = false;
  #lastManifest: { seq: number; writtenAt: number } | undefined;
  #lastMs = 0;
  readonly #histogram = new Histogram();
  /** Checkpoints that failed in a row (a full disk...): logged once, then when it works again. */
  #failures = 0;
  readonly #commitListeners: (() => void)[] = [];

  constructor(config: UrlWindowJobConfig, parts: CheckpointedParts, log: Logger) {
    this.#config = config;
    this.#parts = parts;
    this.#log = log;
  }

  /** The state changed: the next tick's checkpoint writes it. */
  markChanged(): void {
    this.#changed = true;
  }

  /** Called after every committed checkpoint. */
  onCommit(listener: () => void): void {
    this.#commitListeners.push(listener);
  }

  /** The last committed checkpoint (seq 0: none yet) and how long commits take, in ms. */
  stats(): { checkpoint: JobStats['checkpoint']; histogram: HistogramSnapshot } {
    return {
      checkpoint: { seq: this.#lastManifest?.seq ?? 0, writtenAt: this.#lastManifest?.writtenAt, lastMs: this.#lastMs, failedAttempts: this.#failures },
      histogram: this.#histogram.snapshot(),
    };
  }

  /**
   * Loads the last checkpoint into the parts. Returns what `restored` needs once the
   * write-ahead log is replayed: the checkpoint and the WAL segment to replay from.
   */
  restore(): { loaded: LoadedCheckpoint | undefined; walSeq: number; started: number } {
    const config = this.#config;
    const { window, open, time, positions, counters } = this.#parts;
    this.#store = new CheckpointStore(config.checkpointDir, {
      job: config.name,
      type: config.type,
      batchIntervalMs: config.batchIntervalMs,
      windowDurationMs: config.windowDurationMs,
      time: config.time,
    });
    const started = performance.now();
    const loaded = this.#store.load();
    // The history written after the checkpoint (or, with none, after the last one the
    // database knows) is undone: its lines are counted again from here.
    const told = (rolledBack: number) => {
      if (rolledBack > 0) historyRolledBack.emit(this.#log, { rows: rolledBack, checkpointSeq: loaded?.manifest.seq ?? 0 });
    };
    const rolledBack = this.#parts.results.restore(loaded?.manifest.resultsEpoch);
    if (rolledBack instanceof Promise) void rolledBack.then(told);
    else told(rolledBack);
    if (!loaded) {
      open.nextToClose = time.initialNextToClose(open);
      return { loaded, walSeq: 0, started };
    }
    const m = loaded.manifest;
    window.restore(loaded.slots, m.lastSlot);
    for (const s of loaded.slots) if (s.ref) this.#slotRefs.set(s.slot, { ref: s.ref, total: s.total });
    open.nextToClose = m.nextToClose ?? NaN;
    for (const o of loaded.open) {
      const counts = window.openBatchFromBytes(o.data);
      open.restore(o.slot, { counts, events: o.events, parseErrors: o.parseErrors, saved: o.ref, savedEvents: o.events });
    }
    positions.restore(m);
    counters.restore(m.counters, m.visible);
    time.maxEventMs = m.maxEventMs ?? NaN;
    time.pendingParseErrors = m.pendingParseErrors ?? 0;
    positions.markCommitted();
    this.#lastManifest = m;
    return { loaded, walSeq: m.walSeq, started };
  }

  /** After the write-ahead log's replay: what changed is checkpointed next, and the user is told what was resumed. */
  restored(loaded: LoadedCheckpoint | undefined, replayed: number, started: number): void {
    this.#changed = replayed > 0;
    if (loaded?.migratedFrom !== undefined) {
      // The first checkpoint rewrites it in the current format.
      this.#changed = true;
      checkpointMigrated.emit(this.#log, { checkpointDir: this.#config.checkpointDir, fromFormat: loaded.migratedFrom, toFormat: CHECKPOINT_FORMAT, slots: loaded.slots.length, openBatches: loaded.open.length });
    }
    if (loaded || replayed > 0) {
      resumedFromCheckpoint.emit(this.#log, {
        checkpointSeq: loaded?.manifest.seq,
        slots: loaded?.slots.length ?? 0,
        openSlots: this.#parts.open.size,
        files: this.#parts.positions.size,
        walEventsReplayed: replayed,
        ms: Math.round(performance.now() - started),
      });
    }
  }

  /** Commits if anything changed (or `force`); false if it failed (logged once per run of failures). */
  tryCommit(force: boolean, wal: CheckpointedWal): boolean {
    try {
      this.#commit(force, wal);
    } catch (err) {
      if (this.#failures++ === 0) {
        checkpointFailed.emit(this.#log, { err, checkpointDir: this.#config.checkpointDir });
      }
      return false;
    }
    if (this.#failures > 0) {
      checkpointWrittenAgain.emit(this.#log, { failedAttempts: this.#failures });
      this.#failures = 0;
    }
    return true;
  }

  /** Commits window, open slots, positions and counters together, if anything changed. */
  #commit(force: boolean, wal: CheckpointedWal): void {
    if (!this.#store || (!this.#changed && !force)) return;
    const started = performance.now();
    const { window, open: openBatches, time, positions, counters, results } = this.#parts;
    const windowSlots = window.slots();
    const live = new Set(windowSlots.map((s) => s.slot));
    for (const slot of this.#slotRefs.keys()) if (!live.has(slot)) this.#slotRefs.delete(slot);
    // A closed batch's counts are written once, by the first checkpoint that finds it in the
    // window (a historical log closes thousands per second; most leave before then); an open
    // batch's again only when it counted more since.
    const slots = windowSlots.map((s) => {
      const saved = this.#slotRefs.get(s.slot);
      return saved && saved.total === s.total ? { ...s, ref: saved.ref } : { ...s, data: window.encodeSlot(s.slot) };
    });
    const openSlots = openBatches.entries();
    const open = openSlots.map(([slot, o]) => {
      const state = { slot, events: o.events, parseErrors: o.parseErrors };
      return o.saved && o.savedEvents === o.events ? { ...state, ref: o.saved } : { ...state, data: window.encodeBatch(o.counts) };
    });
    const oldest = openBatches.nextToClose;
    positions.expireIds(oldest);
    const walSeq = wal.cutForCheckpoint();
    const kept = positions.state();
    const resultsEpoch = results.endEpoch();
    const committed = this.#store.commit({
      nextToClose: Number.isNaN(oldest) ? null : oldest,
      maxEventMs: Number.isNaN(time.maxEventMs) ? null : time.maxEventMs,
      pendingParseErrors: time.pendingParseErrors,
      lastSlot: window.lastSlot,
      counters: counters.state(),
      visible: counters.visible,
      positions: kept.positions,
      files: kept.files,
      slots,
      open,
      seenIds: kept.seenIds,
      walSeq,
      resultsEpoch,
    });
    results.committed(resultsEpoch);
    this.#lastManifest = committed.manifest;
    // The window kept each slot's bytes for this checkpoint; the segment has them now. (Event
    // time: a slot a line may still reopen, after an early firing, keeps them: its update
    // writes the slot again, whole.)
    const reopenable = time.reopenableFrom(openBatches);
    windowSlots.forEach((s, i) => this.#slotRefs.set(s.slot, { ref: committed.slotRefs[i]!, total: s.total }));
    for (const s of windowSlots) if (s.slot < reopenable) window.slotSaved(s.slot);
    openSlots.forEach(([, o], i) => {
      o.saved = committed.openRefs[i];
      o.savedEvents = o.events;
      // Kept for the batch's history row when it closes: an event-time replay encoded each
      // batch twice, here and at close (cpu profile, watermark 7200: encoding at close was
      // 282 ms of the job thread's 4.8 s). Small batches only: a processing-time batch of a
      // million URLs would hold tens of MB more until it closes.
      const piece = open[i]!;
      if ('data' in piece) o.savedBytes = piece.data.length <= KEEP_SAVED_BYTES ? piece.data : undefined;
    });
    wal.deleteBefore(walSeq);
    positions.markCommitted();
    this.#changed = false;
    this.#lastMs = performance.now() - started;
    this.#histogram.observe(this.#lastMs);
    for (const listener of this.#commitListeners) listener();
  }
}
