import type { StatusRange, TopItem } from '../counts/dimension-window.js';
import type { WindowSet } from '../counts/window-set.js';

/** What `/api/top?by=&status=` asks of the live window. */
export interface LiveTopQuery {
  readonly by: string;
  readonly status: StatusRange;
  readonly n: number;
}

/** The live window's answer, as `/api/top` sends it. */
export interface LiveTop {
  readonly window: { readonly startMs: number; readonly endMs: number } | null;
  readonly by: string;
  readonly total: number;
  readonly items: readonly TopItem[];
  /** Keys with lines (of that status) in the window. */
  readonly keys: number;
  readonly approximate: boolean;
  readonly errorBound: number;
  readonly visitorsError: number;
}

/**
 * Answers top queries on the job's window, in the job's thread: a dimension's top keys of
 * a status, with their measures. An answer is kept until the window changes (it changes
 * once per slide, while dashboards ask every second).
 */
export class LiveTopQueries {
  readonly #window: WindowSet;
  readonly #batchMs: number;
  readonly #windowMs: number;
  readonly #cache = new Map<string, LiveTop>();
  #cachedVersion = -1;

  constructor(window: WindowSet, batchIntervalMs: number, windowDurationMs: number) {
    this.#window = window;
    this.#batchMs = batchIntervalMs;
    this.#windowMs = windowDurationMs;
  }

  top(q: LiveTopQuery): LiveTop {
    const w = this.#window;
    if (w.version !== this.#cachedVersion) {
      this.#cache.clear();
      this.#cachedVersion = w.version;
    }
    const key = `${q.by}\u0000${q.status.lo}\u0000${q.status.hi}\u0000${q.n}`;
    let answer = this.#cache.get(key);
    if (!answer) {
      const last = w.lastSlot;
      const endMs = last === undefined ? undefined : (last + 1) * this.#batchMs;
      answer = { window: endMs === undefined ? null : { startMs: endMs - this.#windowMs, endMs }, by: q.by, ...w.top(q.by, q.n, q.status) };
      this.#cache.set(key, answer);
    }
    return answer;
  }
}
