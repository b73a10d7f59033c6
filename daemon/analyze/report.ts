import type { UrlCount } from '../counts/top-k.js';
import type { TopItem } from '../counts/dimension-window.js';
import type { Panels } from './panels.js';

/**
 * What `logflow analyze` reports, in the shape `--json` prints (times as ISO strings):
 * the text and HTML renderers read the same object.
 */
export interface AnalyzeReport {
  readonly lines: number;
  readonly parsed: number;
  readonly parseErrors: number;
  /** Time span of the counted lines (event time: their own times; processing time: when they were read). */
  readonly from: string | null;
  readonly to: string | null;
  /** The top N URLs over the whole input, count descending, then URL ascending. */
  readonly urls: UrlCount[];
  /** The window (`--window`, sliding by `--slide`) with the most lines; the first of equals. */
  readonly peakWindow: { readonly start: string; readonly end: string; readonly total: number; readonly urls: UrlCount[] } | null;
  readonly files: FileReport[];
  /** `--by`: per dimension its top keys (of `--status`), with lines, bytes and visitors. */
  readonly by?: Readonly<Record<string, TopItem[]>>;
  /** `--status`, as given. */
  readonly status?: string;
  /** Bytes sent, over the input (with `--by` or `--html`). */
  readonly bytes?: number;
  /** Distinct clients over the input (null: the format has none), exact or estimated. */
  readonly visitors?: number | null;
  readonly visitorsExact?: boolean;
}

export interface FileReport {
  readonly name: string;
  readonly lines: number;
  readonly parseErrors: number;
}

/** What the report shows besides the JSON: samples, settings, the events/s series. */
export interface ReportDetails {
  readonly time: 'processing' | 'event';
  readonly logFormat: string;
  readonly windowSeconds: number;
  readonly slideSeconds: number;
  /** The first few lines that did not parse, with their file and line number. */
  readonly parseErrorSamples: { readonly file: string; readonly line: number; readonly text: string }[];
  /** Event time: lines older than the watermark (in the totals, not in any window). */
  readonly late: number;
  /** null: no watermark (the default), no line is late. */
  readonly watermarkSeconds: number | null;
  /** Lines per second over the whole span: `stepSeconds` per point, starting at `startMs`. */
  readonly series: { readonly startMs: number; readonly stepSeconds: number; readonly counts: number[] };
  readonly seconds: number;
  /** The HTML report's panels (`--html`). */
  readonly panels?: Panels;
}

export interface FullReport {
  readonly report: AnalyzeReport;
  readonly details: ReportDetails;
}
