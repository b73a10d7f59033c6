import { ClfTimeParser } from './clf-time.js';
import { parseIso } from './json-time.js';
import type { LineFields } from './line-fields.js';

/**
 * A parsed line's own time in ms (NaN when it has none): Apache's `[time]` (the last
 * second parsed is kept: consecutive lines mostly share it), nginx's `$time_iso8601`, or
 * what a JSON format read itself.
 */
export class LineClock {
  readonly #clf = new ClfTimeParser();

  timeOf(line: Buffer, f: LineFields): number {
    if (f.timeStart >= 0) return f.timeIso ? parseIso(line, f.timeStart, f.timeEnd) : this.#clf.parse(line, f.timeStart, f.timeEnd);
    return f.timeMs;
  }
}
