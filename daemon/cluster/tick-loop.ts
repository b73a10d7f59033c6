import type { Logger } from '../log.js';
import { clusterRunningAgain, type LogEvent } from '../telemetry/index.js';

/** What a tick loop is told: its work, when to run next, and how to name a failed tick. */
export interface TickLoopOptions {
  readonly log: Logger;
  readonly work: () => Promise<void>;
  /** Milliseconds from the end of a tick to the start of the next. */
  readonly next: () => number;
  readonly failed: LogEvent<{ err: string }>;
}

/**
 * The loop a counter and a merge worker run: one tick at a time, the next scheduled when it
 * ends. A tick that fails (the cluster down) is logged and the loop goes on; a tick that
 * works after failures says so once.
 */
export class TickLoop {
  readonly #o: TickLoopOptions;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #tick: Promise<void> = Promise.resolve();
  #failures = 0;

  constructor(options: TickLoopOptions) {
    this.#o = options;
  }

  start(): void {
    this.#schedule(0);
  }

  /** No tick starts after this; resolves once the running one (if any) has ended. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await this.#tick;
  }

  #schedule(ms: number): void {
    if (this.#stopping) return;
    const o = this.#o;
    this.#timer = setTimeout(() => {
      this.#tick = o.work().then(
        () => {
          if (this.#failures > 0) clusterRunningAgain.emit(o.log, { after: this.#failures });
          this.#failures = 0;
        },
        // The first failure and every 50th: a server down for an hour is not 14,400 lines.
        (err: Error) => o.failed.emitAt(o.log, this.#failures++ % 50 === 0 ? 'warn' : 'debug', { err: err.message }),
      );
      void this.#tick.then(() => this.#schedule(o.next()));
    }, ms);
  }
}
