import type { PropertyReader } from '../conf/index.js';
import type { DimensionSpec } from '../counts/dimension-window.js';
import { BUILTIN_FIELDS } from '../logformat/line-fields.js';
import type { LineFormat } from '../logformat/log-format.js';
import type { LogFormatSetting } from '../logformat/log-format-config.js';

/** What a job counts by when `dimensions` is not set. */
export const DEFAULT_DIMENSIONS = ['url', 'status'] as const;

/**
 * Dimensions whose keys can be as many as the clients: past this many keys in the window,
 * the least counted are dropped (`maxKeys.DIM`, 0 for none). The others keep every key.
 */
const CAPPED = new Set(['client', 'agent', 'referrer', 'user']);
export const DEFAULT_MAX_KEYS = 100_000;

/** Where each field comes from in the formats that have it: for the message when one lacks it. */
const WHERE: Record<string, string> = {
  url: 'combined, common and vhost_combined have it; a LogFormat needs %r or %U, nginx $request or $uri, JSON fields.url',
  status: 'combined, common and vhost_combined have it; a LogFormat needs %>s, nginx $status, JSON fields.status',
  client: 'combined, common and vhost_combined have it; a LogFormat needs %h or %a, nginx $remote_addr, JSON fields.client',
  referrer: 'combined and vhost_combined have it; a LogFormat needs %{Referer}i, nginx $http_referer, JSON fields.referrer',
  agent: 'combined and vhost_combined have it; a LogFormat needs %{User-Agent}i, nginx $http_user_agent, JSON fields.agent',
  method: 'combined, common and vhost_combined have it; a LogFormat needs %r or %m, nginx $request or $request_method, JSON fields.method',
  vhost: 'vhost_combined has it; a LogFormat needs %v, nginx $host, JSON fields.vhost',
  user: 'combined, common and vhost_combined have it; a LogFormat needs %u, nginx $remote_user, JSON fields.user',
};

/**
 * `<prefix>.dimensions` (default `url status`, or `defaults`): what the job counts by, each a field of the
 * log format (a JSON format's own fields too), checked against it so that a dimension the
 * format lacks stops start-up naming the key; and `<prefix>.maxKeys.DIM`.
 */
export function readDimensions(
  r: PropertyReader,
  prefix: string,
  format: LogFormatSetting & { readonly compiled: LineFormat },
  defaults: readonly string[] = DEFAULT_DIMENSIONS,
): DimensionSpec[] {
  const key = prefix + '.dimensions';
  const prop = r.raw(key);
  const names = prop ? prop.value.split(/[\s,]+/).filter((n) => n !== '') : [...defaults];
  if (prop && names.length === 0) throw r.at(prop, `needs at least one of ${formatFields(format.compiled).join(', ')}`);
  const compiled = format.compiled;
  const seen = new Set<string>();
  const specs: DimensionSpec[] = [];
  for (const name of names) {
    if (seen.has(name)) throw r.at(prop!, `names ${name} twice`);
    seen.add(name);
    const field = compiled.fieldNames.indexOf(name);
    if (field < 0 || !compiled.has.has(name)) {
      const known = (BUILTIN_FIELDS as readonly string[]).includes(name);
      const why = known
        ? `the log format ${JSON.stringify(format.logFormat)} has no ${name} field (${WHERE[name]})`
        : `${name} is not a field of the log format ${JSON.stringify(format.logFormat)}: the dimensions are ${BUILTIN_FIELDS.join(', ')}${format.compiled.fieldNames.length > BUILTIN_FIELDS.length ? ` and its fields ${format.compiled.fieldNames.slice(BUILTIN_FIELDS.length).join(', ')}` : ''} (a JSON format names its own: fields.${name} = path)`;
      // The default dimensions on a format without a URL: the format is what to change.
      const logFormatProp = r.raw(prefix + '.logFormat');
      if (!prop && logFormatProp) throw r.at(logFormatProp, `${why}; or set ${key} to what it has`);
      throw r.at(prop ?? r.raw(prefix + '.type')!, `${name}: ${why}`);
    }
    const maxKeys = r.int(`${prefix}.maxKeys.${name}`, CAPPED.has(name) || field >= BUILTIN_FIELDS.length ? DEFAULT_MAX_KEYS : 0, 0, 100_000_000);
    specs.push(Object.freeze({ name, field, visitors: compiled.has.has('client') && name !== 'client', maxKeys }));
  }
  for (const rest of r.keysUnder(prefix + '.maxKeys')) {
    if (!seen.has(rest)) throw r.at(r.raw(`${prefix}.maxKeys.${rest}`)!, `is for a dimension this job does not count (${names.join(', ')})`);
  }
  return specs;
}

/** The dimensions a format offers. */
export function formatFields(compiled: LineFormat): string[] {
  return compiled.fieldNames.filter((n) => compiled.has.has(n));
}
