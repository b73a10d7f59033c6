import type { Logger } from '../log.js';

/**
 * An internal event that can come in floods (refused connections, refused calls): each
 * occurrence is counted, by reason, and the first of every `logEvery` is logged, so a flood
 * cannot flood the log too. The counts are what /metrics shows. Declared once per kind of
 * event in telemetry/events.ts.
 */
export interface SampledEventSpec<R extends string> {
  readonly level: 'warn' | 'info';
  readonly message: string;
  readonly reasons: readonly R[];
  readonly logEvery: number;
}

export class SampledEvent<R extends string> {
  readonly #spec: SampledEventSpec<R>;
  readonly #counts: Record<R, number>;
  #total = 0;

  constructor(spec: SampledEventSpec<R>) {
    this.#spec = spec;
    this.#counts = Object.fromEntries(spec.reasons.map((r) => [r, 0])) as Record<R, number>;
  }

  /** Counts one occurrence; logs it (with `refusedSoFar`, the total) when it is sampled. */
  emit(logger: Logger, reason: R, fields: Record<string, unknown>): void {
    this.#counts[reason]++;
    if (this.#total++ % this.#spec.logEvery === 0) logger[this.#spec.level]({ ...fields, refusedSoFar: this.#total }, this.#spec.message);
  }

  /** Occurrences so far, by reason. */
  counts(): Readonly<Record<R, number>> {
    return { ...this.#counts };
  }

  get total(): number {
    return this.#total;
  }
}
