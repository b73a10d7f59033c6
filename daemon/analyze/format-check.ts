import { compileExplainer } from '../logformat/log-format-explain.js';
import type { UrlRange } from '../logformat/access-log.js';
import { ClfTimeParser } from '../logformat/clf-time.js';
import { compileUrlParser } from '../logformat/log-format.js';
import { readLogLines, type LogFile } from './log-lines.js';

/** The formats `logflow check` tries when none is given (the conf's is added when known). */
export const CHECK_FORMATS = ['combined', 'common', 'vhost_combined'] as const;
const FAILURES_SHOWN = 5;
const DISPLAY_CHARS = 120;

export interface FormatShare {
  readonly format: string;
  readonly parsed: number;
  /** parsed / lines, 0..1. */
  readonly share: number;
}

export interface FailingLine {
  /** 1-based line number in the file. */
  readonly line: number;
  /** The line as shown (control characters as `·`; long lines cut around the caret, with `…`). */
  readonly text: string;
  /** Where the caret goes in `text` (characters). */
  readonly column: number;
  /** Byte offset in the line where parsing stopped. */
  readonly byte: number;
  readonly field: string;
  readonly expected: string;
}

export interface CheckResult {
  readonly file: string;
  readonly lines: number;
  /** True when the file has more lines than were read (`--lines`). */
  readonly capped: boolean;
  readonly formats: FormatShare[];
  /** The format with the largest share (the first of equals), and its first failing lines. */
  readonly best: string;
  readonly failures: FailingLine[];
  /**
   * Lines the best format parses whose time event time cannot read (no `[time]` in the
   * format, or not `DD/Mon/YYYY:HH:MM:SS +ZZZZ`): with `time = event` they are parse errors.
   */
  readonly noEventTime: { readonly lines: number; readonly first: number | null };
}

/** Reads up to `maxLines` lines of `file` and measures each format on them. */
export async function checkLog(file: LogFile, formats: readonly string[], maxLines: number): Promise<CheckResult> {
  const lines: Buffer[] = [];
  let capped = false;
  await readLogLines(file, (buf, starts, ends, count) => {
    for (let i = 0; i < count; i++) {
      if (lines.length === maxLines) {
        capped = true;
        return false;
      }
      lines.push(Buffer.from(buf.subarray(starts[i]!, ends[i]!)));
    }
    return true;
  });
  const range: UrlRange = { start: 0, end: 0 };
  const shares = formats.map((format) => {
    const parse = compileUrlParser(format, false);
    let parsed = 0;
    for (const line of lines) if (parse(line, 0, line.length, range)) parsed++;
    return { format, parsed, share: lines.length > 0 ? parsed / lines.length : 0 };
  });
  const best = shares.reduce((a, b) => (b.parsed > a.parsed ? b : a));
  const explain = compileExplainer(best.format);
  const failures: FailingLine[] = [];
  for (let i = 0; i < lines.length && failures.length < FAILURES_SHOWN; i++) {
    const line = lines[i]!;
    const why = explain(line, 0, line.length);
    if (why) failures.push({ line: i + 1, byte: why.at, field: why.field, expected: why.expected, ...display(line, why.at) });
  }
  return { file: typeof file === 'string' ? file : file.name, lines: lines.length, capped, formats: shares, best: best.format, failures, noEventTime: withoutEventTime(lines, best.format) };
}

function withoutEventTime(lines: readonly Buffer[], format: string): CheckResult['noEventTime'] {
  const parse = compileUrlParser(format, false);
  const clock = new ClfTimeParser();
  const range: UrlRange = { start: 0, end: 0, timeStart: -1 };
  let count = 0;
  let first: number | null = null;
  lines.forEach((line, i) => {
    range.timeStart = -1;
    if (!parse(line, 0, line.length, range)) return;
    if (range.timeStart! >= 0 && !Number.isNaN(clock.parse(line, range.timeStart!, range.timeEnd!))) return;
    count++;
    first ??= i + 1;
  });
  return { lines: count, first };
}

/** The line as text with the caret's column; a long line is cut to a window around it. */
function display(line: Buffer, at: number): { text: string; column: number } {
  const clean = (s: string) => s.replace(/[\x00-\x1f\x7f]/g, '·');
  const before = clean(line.toString('utf8', 0, at));
  const after = clean(line.toString('utf8', at));
  if (before.length + after.length <= DISPLAY_CHARS) return { text: before + after, column: before.length };
  const keepBefore = Math.min(before.length, DISPLAY_CHARS / 2);
  const head = before.length > keepBefore ? '…' + before.slice(before.length - keepBefore) : before;
  const tail = after.length > DISPLAY_CHARS - keepBefore ? after.slice(0, DISPLAY_CHARS - keepBefore) + '…' : after;
  return { text: head + tail, column: head.length };
}
