import { compileExplainer, jsonValueAt } from '../logformat/log-format-explain.js';
import { LineFields } from '../logformat/line-fields.js';
import { LineClock } from '../logformat/line-clock.js';
import { compileLineFormat } from '../logformat/log-format.js';
import { JSON_FORMATS, jsonFields, type JsonFormat } from '../logformat/json-format.js';
import { readLogLines, type LogFile } from './log-lines.js';

/** The formats `logflow check` tries when none is given (the conf's is added when known). */
export const CHECK_FORMATS = ['combined', 'common', 'vhost_combined', 'caddy', 'traefik'] as const;
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
  /**
   * A JSON best format: per field it maps, the lines (of those that parse) that lack it
   * (missing, null or empty: the field reads as `-`), and the first of them.
   */
  readonly fields?: { readonly name: string; readonly path: string; readonly missing: number; readonly first: number | null }[];
}

/** Reads up to `maxLines` lines of `file` and measures each format on them (`fields`: a JSON format's). */
export async function checkLog(file: LogFile, formats: readonly string[], maxLines: number, fields: Readonly<Record<string, string>> = {}): Promise<CheckResult> {
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
  const shares = formats.map((format) => {
    const compiled = compileLineFormat(format, { fields: isJson(format) ? fields : undefined });
    const parse = compiled.parse;
    const range = new LineFields(compiled.fieldNames.length);
    let parsed = 0;
    for (const line of lines) if (parse(line, 0, line.length, range)) parsed++;
    return { format, parsed, share: lines.length > 0 ? parsed / lines.length : 0 };
  });
  const best = shares.reduce((a, b) => (b.parsed > a.parsed ? b : a));
  const explain = compileExplainer(best.format, fields);
  const failures: FailingLine[] = [];
  for (let i = 0; i < lines.length && failures.length < FAILURES_SHOWN; i++) {
    const line = lines[i]!;
    const why = explain(line, 0, line.length);
    if (why) failures.push({ line: i + 1, byte: why.at, field: why.field, expected: why.expected, ...display(line, why.at) });
  }
  const json = isJson(best.format) ? { fields: missingFields(lines, best.format as JsonFormat, fields) } : {};
  return { file: typeof file === 'string' ? file : file.name, lines: lines.length, capped, formats: shares, best: best.format, failures, noEventTime: withoutEventTime(lines, best.format, fields), ...json };
}

const isJson = (format: string) => JSON_FORMATS.includes(format as JsonFormat);

function withoutEventTime(lines: readonly Buffer[], format: string, fields: Readonly<Record<string, string>>): CheckResult['noEventTime'] {
  const compiled = compileLineFormat(format, { fields: isJson(format) ? fields : undefined });
  const clock = new LineClock();
  const range = new LineFields(compiled.fieldNames.length);
  let count = 0;
  let first: number | null = null;
  lines.forEach((line, i) => {
    if (!compiled.parse(line, 0, line.length, range)) return;
    if (!Number.isNaN(clock.timeOf(line, range))) return;
    count++;
    first ??= i + 1;
  });
  return { lines: count, first };
}

/** Per field of a JSON format: how many of the lines that are JSON objects lack it (read by JSON.parse, the explainer's reference). */
function missingFields(lines: readonly Buffer[], format: JsonFormat, userFields: Readonly<Record<string, string>>): NonNullable<CheckResult['fields']> {
  const map = jsonFields(format, userFields);
  const out = Object.entries(map).map(([name, path]) => ({ name, path, missing: 0, first: null as number | null }));
  lines.forEach((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line.toString('utf8'));
    } catch {
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
    for (const f of out) {
      if (jsonValueAt(value, f.path) !== undefined) continue;
      f.missing++;
      f.first ??= i + 1;
    }
  });
  return out;
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
