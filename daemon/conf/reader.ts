import { ConfigError } from '../errors.js';
import { nearest } from './did-you-mean.js';
import type { Property } from './properties.js';

/** A key nothing read, with the known key it is probably a typo of. */
export interface UnknownKey {
  readonly prop: Property;
  readonly suggestion: string | undefined;
}

/**
 * Typed, tracked access to the properties of one agent. Every key read is marked as used,
 * so whatever is left over at the end is an unknown key and can be reported with its line.
 */
export class PropertyReader {
  readonly #props: Map<string, Property>;
  readonly #used = new Set<string>();
  /** Every key a component asked for, set or not: the known keys, for "did you mean". */
  readonly #asked = new Set<string>();
  readonly #file: string;

  constructor(props: Map<string, Property>, file: string) {
    this.#props = props;
    this.#file = file;
  }

  has(key: string): boolean {
    this.#asked.add(key);
    return this.#props.has(key);
  }

  /** Keys under `prefix.` (without the prefix), used for sub-components like interceptors. */
  keysUnder(prefix: string): string[] {
    const p = prefix + '.';
    return [...this.#props.keys()].filter((k) => k.startsWith(p)).map((k) => k.slice(p.length));
  }

  raw(key: string): Property | undefined {
    this.#asked.add(key);
    const prop = this.#props.get(key);
    if (prop) this.#used.add(key);
    return prop;
  }

  string(key: string, fallback?: string): string {
    const prop = this.raw(key);
    if (prop === undefined) {
      if (fallback === undefined) throw this.missing(key);
      return fallback;
    }
    if (prop.value === '') throw this.bad(prop, 'a non-empty value');
    return prop.value;
  }

  /** A value that may be absent or empty (a login from an environment variable left unset in one deployment): undefined then. */
  optionalString(key: string): string | undefined {
    return this.raw(key)?.value || undefined;
  }

  int(key: string, fallback: number | undefined, min: number, max: number): number {
    const prop = this.raw(key);
    if (prop === undefined) {
      if (fallback === undefined) throw this.missing(key);
      return fallback;
    }
    const n = /^-?\d+$/.test(prop.value) ? Number(prop.value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw this.bad(prop, `an integer from ${min} to ${max}`);
    }
    return n;
  }

  /** Seconds, possibly fractional, returned as whole milliseconds. */
  seconds(key: string, fallbackSeconds: number, minMs: number): number {
    const prop = this.raw(key);
    if (prop === undefined) return Math.round(fallbackSeconds * 1000);
    const n = /^\d+(\.\d{1,3})?$/.test(prop.value) ? Math.round(Number(prop.value) * 1000) : NaN;
    if (!Number.isFinite(n) || n < minMs) {
      throw this.bad(prop, `a number of seconds of at least ${minMs / 1000} (up to 3 decimals)`);
    }
    return n;
  }

  bool(key: string, fallback: boolean): boolean {
    const prop = this.raw(key);
    if (prop === undefined) return fallback;
    const v = prop.value.toLowerCase();
    if (v !== 'true' && v !== 'false') throw this.bad(prop, 'true or false');
    return v === 'true';
  }

  oneOf<T extends string>(key: string, values: readonly T[], fallback?: T): T {
    const prop = this.raw(key);
    if (prop === undefined) {
      if (fallback === undefined) throw this.missing(key);
      return fallback;
    }
    const match = values.find((v) => v.toLowerCase() === prop.value.toLowerCase());
    if (match === undefined) throw this.bad(prop, `one of ${values.join(', ')}`);
    return match;
  }

  regex(key: string, fallback: string): RegExp {
    const prop = this.raw(key);
    const source = prop?.value ?? fallback;
    try {
      return new RegExp(source);
    } catch (err) {
      throw this.bad(prop!, `a valid regular expression (${(err as Error).message})`);
    }
  }

  /** A white-space separated list of names, as in `a1.sources = r1 r2`. */
  list(key: string): string[] {
    const prop = this.raw(key);
    if (prop === undefined) return [];
    return prop.value.split(/\s+/).filter(Boolean);
  }

  /** Keys under `agentPrefix` that nothing read: each is reported with its line. */
  unused(agentPrefix: string): Property[] {
    return [...this.#props.values()]
      .filter((p) => p.key.startsWith(agentPrefix) && !this.#used.has(p.key))
      .sort((a, b) => a.line - b.line);
  }

  /**
   * The keys under `agentPrefix` that nothing read and `accepted` does not excuse, each with
   * the asked-for key it is nearest to. When reading stopped early at an error
   * (`complete` false), the keys not yet asked for are unknown only when they are near
   * one that was: those are reported, so a typo is named before what it caused.
   */
  unknownKeys(agentPrefix: string, accepted: (key: string) => boolean, complete: boolean): UnknownKey[] {
    return this.unused(agentPrefix)
      .filter((p) => !accepted(p.key))
      .map((prop) => ({ prop, suggestion: nearest(prop.key, this.#asked) }))
      .filter((u) => complete || u.suggestion !== undefined);
  }

  markUsed(key: string): void {
    if (this.#props.has(key)) this.#used.add(key);
  }

  missing(key: string): ConfigError {
    return new ConfigError('LF_CONFIG_MISSING_KEY', `${this.#file}: ${key} is required but not set`, key);
  }

  bad(prop: Property, expected: string): ConfigError {
    return new ConfigError(
      'LF_CONFIG_BAD_VALUE',
      `${this.#file}:${prop.line}: ${prop.key} must be ${expected}, got ${JSON.stringify(prop.value)}`,
      prop.key,
      prop.line,
    );
  }

  at(prop: Property, message: string): ConfigError {
    return new ConfigError('LF_CONFIG_BAD_VALUE', `${this.#file}:${prop.line}: ${prop.key}: ${message}`, prop.key, prop.line);
  }
}
