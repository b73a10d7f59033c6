import type { InterceptorConfig } from './source-config.js';

/**
 * Flume's interceptors that give every event of a batch the same header value (timestamp,
 * host, static): applied once per batch, on a copy of its headers.
 */
export function intercept(
  interceptors: readonly InterceptorConfig[],
  base: Readonly<Record<string, string>>,
  now: number,
): Readonly<Record<string, string>> {
  if (interceptors.length === 0) return base;
  const headers: Record<string, string> = { ...base };
  for (const i of interceptors) {
    if (i.preserveExisting && headers[i.headerName] !== undefined) continue;
    headers[i.headerName] = i.type === 'timestamp' ? String(now) : i.value!;
  }
  return headers;
}
