import { ConfigError } from '../errors.js';
import type { Records } from './bus.js';

/** A setting this process runs with, and the configuration key that sets it. */
export interface Setting {
  readonly value: string | number;
  readonly key: string;
}

interface Recorded extends Setting {
  /** Who recorded it first (`agent/component` on a host), for the error. */
  readonly by: string;
}

export const SETTINGS_KEY = 'settings';

/**
 * The settings every process of a cluster must agree on (the partitions edges hash files
 * to, the merge shards counters split URLs by, the batch interval, the window...), in one
 * record that the first process writes and every later one checks, adding the settings it
 * knows that nobody recorded yet. A process whose configuration differs stops with an
 * error naming its key and the value the cluster runs with: before, whichever process
 * started first fixed them, and a counter with fewer partitions silently skipped some.
 */
export async function agreeOnSettings(records: Records, mine: Readonly<Record<string, Setting>>, by: string): Promise<void> {
  for (;;) {
    const got = await records.get(SETTINGS_KEY);
    const recorded: Record<string, Recorded> = got ? (JSON.parse(new TextDecoder().decode(got.value)) as Record<string, Recorded>) : {};
    let missing = false;
    for (const [name, s] of Object.entries(mine)) {
      const r = recorded[name];
      if (!r) {
        recorded[name] = { ...s, by };
        missing = true;
      } else if (r.value !== s.value) {
        throw new ConfigError(
          'LF_CLUSTER_MISMATCH',
          `${s.key} = ${s.value}, but the cluster runs with ${name} ${r.value} (${r.key} of ${r.by}); every process of a cluster must agree`,
          s.key,
        );
      }
    }
    if (!missing) return;
    const value = new TextEncoder().encode(JSON.stringify(recorded));
    const written = got ? await records.update(SETTINGS_KEY, value, got.revision) : await records.create(SETTINGS_KEY, value);
    if (written !== undefined) return;
    // Another process recorded at the same moment: check against what it wrote.
  }
}

/** Reads the recorded settings (for a process that checks a relation, not an equality). */
export async function recordedSettings(records: Records): Promise<Record<string, Recorded>> {
  const got = await records.get(SETTINGS_KEY);
  return got ? (JSON.parse(new TextDecoder().decode(got.value)) as Record<string, Recorded>) : {};
}

/**
 * The dimensions whose visitors are counted (their format has a client field, and they are
 * not the client), as counters and query nodes must agree on them: a counter whose format
 * has no client sends none, and a query node's window would count 0 where a single process
 * answers null. `key` is the format's key, which decides it.
 */
export function visitorDimensions(dims: readonly { readonly name: string; readonly visitors: boolean }[], key: string): Setting {
  const names = dims.filter((d) => d.visitors).map((d) => d.name);
  return { value: names.length > 0 ? `visitors of ${names.join(' ')}` : 'no visitors (no client field)', key };
}
