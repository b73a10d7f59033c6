import type { PropertyReader } from '../conf/index.js';

export interface HttpConfig {
  readonly bind: string;
  readonly port: number;
  /** When set, `/api/*` and `/metrics` want `Authorization: Bearer <token>`. */
  readonly authToken: string | undefined;
  /**
   * How much lower (a nice increment, 0-19) the pipeline's threads run than the HTTP
   * thread, so that on a busy box queries are answered first (Linux; 0 turns it off).
   */
  readonly pipelineNice: number;
}

/** Reads `<agent>.http.*`. */
export function read(r: PropertyReader, p: string): HttpConfig {
  const token = r.raw(p + '.authToken');
  if (token && token.value.length < 16) throw r.at(token, 'must be at least 16 characters');
  return Object.freeze({
    bind: r.string(p + '.bind', '127.0.0.1'),
    port: r.int(p + '.port', 8080, 0, 65535),
    authToken: token?.value,
    pipelineNice: r.int(p + '.pipelineNice', 10, 0, 19),
  });
}
