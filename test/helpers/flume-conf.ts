/** Lines of one component's keys, `key = value` each (a string may hold several lines). */
type Keys = readonly string[];

/**
 * One Flume tier in Flume's own keys, as a user writes it: source r1 -> channel c1 -> sink k1
 * of agent `agent`, each component's keys (`type = avro`, ...) given without its prefix,
 * the wiring (`sources.r1.channels`, `sinks.k1.channel`) after them; `extra` lines last,
 * whole. Collectors and edges of the tier tests differ only in these keys.
 */
export function flumeTier(parts: { agent?: string; source: Keys; channel: Keys; sink: Keys; extra?: string }): string {
  const agent = parts.agent ?? 'a1';
  const under = (prefix: string, keys: Keys) => keys.flatMap((k) => k.split('\n')).filter((k) => k !== '').map((k) => `${agent}.${prefix}.${k}`);
  return [
    `${agent}.sources = r1`, `${agent}.channels = c1`, `${agent}.sinks = k1`,
    ...under('sources.r1', [...parts.source, 'channels = c1']),
    ...under('channels.c1', parts.channel),
    ...under('sinks.k1', [...parts.sink, 'channel = c1']),
  ].join('\n') + '\n' + (parts.extra ?? '');
}

/** An avro sink k1 to 127.0.0.1:`port`, batches of 1000. */
export const avroSinkTo = (port: number, ...more: string[]): Keys => ['type = avro', 'hostname = 127.0.0.1', `port = ${port}`, 'batch-size = 1000', ...more];
