import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { CHECK_FORMATS, checkLog } from '../analyze/format-check.js';
import type { HttpDeps } from './deps.js';
import { sendError } from './errors.js';

/** Lines read per check: enough to find the failing ones, quick enough for a click. */
const CHECK_LINES = 10_000;

/**
 * `GET /api/files/:name/check`: `logflow check` on a spool file, for the dashboard's link
 * next to a failed or mostly-unparsed file. The file is found where the source left it:
 * its own name while pending or read, `NAME.COMPLETED`, `NAME.FAILED` (or `NAME.1.COMPLETED`...)
 * once finished; the newest of those.
 */
export const fileCheckRoutes: FastifyPluginAsync<Pick<HttpDeps, 'files' | 'job'>> = async (app, deps) => {
  app.get<{ Params: { name: string } }>(
    '/api/files/:name/check',
    { schema: { summary: 'Which log format parses a spool file, and where its failing lines stop (logflow check)', params: { type: 'object', properties: { name: { type: 'string', minLength: 1 } }, required: ['name'] } } },
    async (req, reply) => {
      const file = (await deps.files()).filter((f) => f.name === req.params.name).at(-1);
      if (!file) return sendError(reply, 'LF_HTTP_NO_FILE', `the source has not seen a file ${JSON.stringify(req.params.name)}`);
      const onDisk = locate(file.path);
      if (!onDisk) return sendError(reply, 'LF_HTTP_FILE_GONE', `${file.name} is no longer in the spool (deletePolicy = immediate, or moved away)`);
      const configured = deps.job?.logFormat;
      const formats = configured && configured !== 'auto' && !(CHECK_FORMATS as readonly string[]).includes(configured) ? [configured, ...CHECK_FORMATS] : [...CHECK_FORMATS];
      return { ...(await checkLog(onDisk, formats, CHECK_LINES, deps.job?.fields)), file: path.basename(onDisk), logFormat: configured ?? 'auto' };
    },
  );
};

/** The file itself, or else the newest `NAME.*` next to it (renamed when finished). */
function locate(file: string): string | undefined {
  const mtime = (p: string) => {
    try {
      const st = statSync(p);
      return st.isFile() ? st.mtimeMs : -1;
    } catch {
      return -1; // gone, or renamed meanwhile
    }
  };
  if (mtime(file) >= 0) return file;
  const name = path.basename(file);
  let names: string[];
  try {
    names = readdirSync(path.dirname(file)).filter((n) => n.startsWith(name + '.'));
  } catch {
    return undefined;
  }
  const found = names.map((n) => ({ p: path.join(path.dirname(file), n), m: mtime(path.join(path.dirname(file), n)) })).filter((f) => f.m >= 0);
  return found.sort((a, b) => b.m - a.m)[0]?.p;
}
