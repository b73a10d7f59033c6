import { closeSync, readSync } from 'node:fs';
import { GunzipSource } from './byte-source.js';
import { openIfSame, type OpenedInode } from './spool-open.js';

/** Bytes of a file's start looked at for sample lines. */
const SAMPLE_BYTES = 256 * 1024;
const SAMPLES = 3;

/** Says whether one line (`buf[start, end)`) parses in the job's log format. */
export type LineCheck = (buf: Buffer, start: number, end: number) => boolean;

/**
 * A file of which more than half the lines did not parse is most likely in another format
 * than the one configured (JSON, plain text, a custom Apache format): that is worth a
 * warning, not only a count.
 */
export function mostlyUnparsed(lines: number, parseErrors: number | undefined): boolean {
  return parseErrors !== undefined && lines > 0 && parseErrors * 2 > lines;
}

/**
 * Up to 3 lines from the file's first 256 KB that `parses` refuses, for the warning (read
 * again from the file, so the hot path keeps no copies of bad lines). Only from the file
 * the source read (`opened`): a link re-pointed since is not followed to another file's
 * lines. Empty when the file cannot be read any more, or is another file now.
 */
export async function unparsedSamples(file: string, opened: OpenedInode | undefined, gzip: boolean, parses: LineCheck, maxLineLength: number): Promise<string[]> {
  const buf = Buffer.allocUnsafe(SAMPLE_BYTES);
  let got = 0;
  let fd: number | undefined;
  try {
    fd = opened && openIfSame(file, opened);
    if (fd === undefined) return [];
    if (gzip) {
      const gz = new GunzipSource(file, fd);
      try {
        while (got < buf.length) {
          const n = await gz.read(buf, got, buf.length - got);
          if (n === 0) break;
          got += n;
        }
      } finally {
        await gz.close();
      }
    } else {
      got = readSync(fd, buf, 0, buf.length, 0);
    }
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const samples: string[] = [];
  for (let start = 0; start < got && samples.length < SAMPLES; ) {
    let end = buf.indexOf(10, start);
    const last = end < 0 || end >= got;
    if (last) end = got;
    const lineEnd = end > start && buf[end - 1] === 13 ? end - 1 : end;
    if (!parses(buf, start, lineEnd)) samples.push(buf.toString('utf8', start, Math.min(lineEnd, start + Math.min(maxLineLength, 300))));
    if (last) break;
    start = end + 1;
  }
  return samples;
}
