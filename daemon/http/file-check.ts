import { closeSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { CHECK_FORMATS, checkLog } from '../analyze/format-check.js';
import { openIfSame, type OpenedInode } from '../source/spool-open.js';
import type { HttpDeps } from './deps.js';
import { sendError } from './errors.js';

/** Lines read per check: enough to find the failing ones, quick enough for a click. */
const CHECK_LINES = 10_000;

/**
 * `GET /api/files/:name/check`: `logflow check` on a spool file, for the dashboard's link
 * next to a failed or mostly-unparsed file. The file is found where the source left it:
 * its own name while pending or read, `NAME.COMPLETED`, `NAME.FAILED` (or `NAME.1.COMPLETED`...)
 * once finished.
 *
 * Only a file the source itself opened and read is served, and only that very file: the
 * one with the inode (and, through a link, the target) the source recorded. A name the
 * source refused (a link not followed), or a link re-pointed at another file since, is
 * not opened for anyone who can reach the API.
 */
export const fileCheckRoutes: FastifyPluginAsync<Pick<HttpDeps, 'files' | 'job'>> = async (app, deps) => {
  app.get<{ Params: { name: string } }>(
    '/api/files/:name/check',
    { schema: { summary: 'Which log format parses a spool file, and where its failing lines stop (logflow check)', params: { type: 'object', properties: { name: { type: 'string', minLength: 1 } }, required: ['name'] } } },
    async (req, reply) => {
      const file = (await deps.files()).filter((f) => f.name === req.params.name).at(-1);
      if (!file) return sendError(reply, 'LF_HTTP_NO_FILE', `the source has not seen a file ${JSON.stringify(req.params.name)}`);
      if (!file.opened) return sendError(reply, 'LF_HTTP_FILE_NOT_READ', `the source did not read ${file.name}${file.reason ? ` (${file.reason})` : ''}; only files it read are checked`);
      const found = locate(file.path, file.opened);
      if (found.kind === 'gone') return sendError(reply, 'LF_HTTP_FILE_GONE', `${file.name} is no longer in the spool (deletePolicy = immediate, or moved away)`);
      if (found.kind === 'other') return sendError(reply, 'LF_HTTP_FILE_REPLACED', `${path.basename(found.path)} is not the file the source read (replaced, or its link re-pointed, since); not read`);
      try {
        const configured = deps.job?.logFormat;
        const formats = configured && configured !== 'auto' && !(CHECK_FORMATS as readonly string[]).includes(configured) ? [configured, ...CHECK_FORMATS] : [...CHECK_FORMATS];
        return { ...(await checkLog({ name: found.path, fd: found.fd }, formats, CHECK_LINES, deps.job?.fields)), file: path.basename(found.path), logFormat: configured ?? 'auto' };
      } finally {
        closeSync(found.fd);
      }
    },
  );
};

type Located = { kind: 'opened'; path: string; fd: number } | { kind: 'other'; path: string } | { kind: 'gone' };

/**
 * The file the source read, open: under its own name, or else one of `NAME.*` next to it
 * (renamed when finished); `other` when names are there but none is that file.
 */
function locate(file: string, opened: OpenedInode): Located {
  const name = path.basename(file);
  let names: string[];
  try {
    names = readdirSync(path.dirname(file)).filter((n) => n === name || n.startsWith(name + '.'));
  } catch {
    return { kind: 'gone' };
  }
  let other: string | undefined;
  // Its own name first (still pending or being read), then the finished names, newest suffix first.
  for (const n of names.sort((a, b) => (a === name ? -1 : b === name ? 1 : b.localeCompare(a)))) {
    const p = path.join(path.dirname(file), n);
    try {
      const fd = openIfSame(p, opened);
      if (fd !== undefined) return { kind: 'opened', path: p, fd };
      other ??= p;
    } catch (err) {
      // ELOOP: a link where the source read a file; anything else: gone or unreadable meanwhile.
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') other ??= p;
    }
  }
  return other === undefined ? { kind: 'gone' } : { kind: 'other', path: other };
}
