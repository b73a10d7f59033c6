import type { StreamConfig } from '@nats-io/jetstream';
import { ConfigError } from '../errors.js';
import type { StreamLimits, StreamSpec } from './bus.js';

/**
 * An existing stream against what this process's configuration asks of it: the subjects
 * always (the process could not work otherwise), and the replicas and limits whose keys
 * the configuration sets. The first difference throws, naming the key and the stream's
 * value, so the operator changes one or the other (`nats stream edit`).
 */
export function checkStream(spec: StreamSpec, existing: StreamConfig): void {
  const mismatch = (field: keyof StreamSpec['keys'], want: unknown, have: unknown, why = '') => {
    const key = spec.keys[field] ?? field;
    return new ConfigError('LF_CLUSTER_MISMATCH', `${key} = ${String(want)}, but stream ${spec.name} has ${String(have)}${why} (set the key to match, or change the stream)`, key);
  };
  const subjects = existing.subjects ?? [];
  if (!subjects.includes(spec.subject + '.>')) throw mismatch('subject', spec.subject, `subjects ${subjects.join(', ') || '(none)'}`, `; it must hold ${spec.subject}.>`);
  if (spec.keys.replicas !== undefined && existing.num_replicas !== spec.replicas) throw mismatch('replicas', spec.replicas, `${existing.num_replicas} replicas`);
  const have: StreamLimits = {
    maxAgeMs: Math.round(Number(existing.max_age ?? 0) / 1_000_000),
    maxBytes: existing.max_bytes ?? -1,
    maxMsgs: existing.max_msgs ?? -1,
    duplicateWindowMs: Math.round(Number(existing.duplicate_window ?? 0) / 1_000_000),
    discard: String(existing.discard ?? 'old') === 'new' ? 'new' : 'old',
  };
  const shown: Record<keyof StreamLimits, (v: StreamLimits[keyof StreamLimits]) => string> = {
    maxAgeMs: (v) => `max age ${Number(v) / 1000} s`,
    maxBytes: (v) => `max bytes ${v}`,
    maxMsgs: (v) => `max msgs ${v}`,
    duplicateWindowMs: (v) => `duplicate window ${Number(v) / 1000} s`,
    discard: (v) => `discard ${v}`,
  };
  for (const field of Object.keys(shown) as (keyof StreamLimits)[]) {
    if (spec.keys[field] === undefined || have[field] === spec.limits[field]) continue;
    const want = spec.limits[field];
    throw mismatch(field, typeof want === 'number' && field.endsWith('Ms') ? want / 1000 : want, shown[field](have[field]));
  }
}
