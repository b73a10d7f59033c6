import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { sendError } from './errors.js';
import { dashboardAssetsMissing } from '../telemetry/index.js';

/**
 * The dashboard at `/`: a few static files from `web/` and uPlot's from node_modules, read
 * once at start-up and served from memory with an ETag. Nothing comes from a CDN.
 */
const WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));
const require = createRequire(import.meta.url);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** URL name -> file on disk. A fixed list: no path from a request reaches the file system. */
function assetFiles(): Map<string, string> {
  return new Map([
    ['index.html', WEB_DIR + 'index.html'],
    ['app.js', WEB_DIR + 'app.js'],
    ['style.css', WEB_DIR + 'style.css'],
    ['icon.svg', WEB_DIR + 'icon.svg'],
    ['uPlot.iife.min.js', require.resolve('uplot/dist/uPlot.iife.min.js')],
    ['uPlot.min.css', require.resolve('uplot/dist/uPlot.min.css')],
    // (Loaded by the page only when the job counts agents: browsers and systems.)
    ['ua-parser.min.js', require.resolve('ua-parser-js/dist/ua-parser.min.js')],
  ]);
}

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, file] of assetFiles()) {
    const body = readFileSync(file);
    const type = TYPES[name.slice(name.lastIndexOf('.'))]!;
    assets.set(name, { body, type, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"` });
  }
  return assets;
}

export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  let assets: Map<string, Asset>;
  try {
    assets = loadAssets();
  } catch (err) {
    // The API works without the dashboard: say what is missing rather than refuse to start.
    dashboardAssetsMissing.emit(app.log, { err: { message: (err as Error).message } });
    return;
  }
  const send = (name: string, ifNoneMatch: string | undefined, reply: FastifyReply) => {
    const asset = assets.get(name);
    if (!asset) return sendError(reply, 'LF_HTTP_NOT_FOUND', `no dashboard file ${JSON.stringify(name.slice(0, 100))}`);
    reply.header('etag', asset.etag).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff');
    if (ifNoneMatch === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).send(asset.body);
  };
  const hide = { hide: true } as const;
  app.get('/', { schema: { ...hide } }, async (req, reply) => send('index.html', req.headers['if-none-match'], reply));
  app.get<{ Params: { file: string } }>('/dashboard/:file', { schema: { ...hide } }, async (req, reply) =>
    send(req.params.file, req.headers['if-none-match'], reply));
};
