import type { PropertyReader } from '../conf/index.js';
import { FIELD_NAME, JSON_FORMATS, type JsonFormat } from './json-format.js';
import { compileLineFormat, NAMED_FORMATS, type LineFormat } from './log-format.js';

/** A job's or a counter's `logFormat` and, for the JSON formats, its `fields.NAME = path` keys. */
export interface LogFormatSetting {
  /** `auto`, `combined`, `common`, `vhost_combined`, `json`, `caddy`, `traefik`, or an Apache/nginx format string. */
  readonly logFormat: string;
  /** `fields.NAME = dotted.path` of a JSON format (empty for the others). */
  readonly fields: Readonly<Record<string, string>>;
}

/**
 * `<prefix>.logFormat` and `<prefix>.fields.*`: a named format or a format string that
 * compiles, with the fields a JSON format maps (the format is compiled here, so a bad one
 * stops start-up naming its key). Also the compiled format, for the checks of the keys
 * that depend on it (the dimensions).
 */
export function readLogFormatSetting(r: PropertyReader, prefix: string): LogFormatSetting & { readonly compiled: LineFormat } {
  const key = prefix + '.logFormat';
  const prop = r.raw(key);
  const named = prop && NAMED_FORMATS.find((n) => n === prop.value.toLowerCase());
  const logFormat = !prop ? 'auto' : (named ?? prop.value);
  const fields: Record<string, string> = {};
  for (const name of r.keysUnder(prefix + '.fields').sort()) {
    const field = r.raw(`${prefix}.fields.${name}`)!;
    if (!JSON_FORMATS.includes(logFormat as JsonFormat)) throw r.at(field, `is for the JSON formats (logFormat = ${JSON_FORMATS.join(', ')}), not for logFormat ${JSON.stringify(logFormat)}`);
    if (!FIELD_NAME.test(name)) throw r.at(field, 'names a field with letters, digits, _ and -, starting with a letter');
    if (field.value === '') throw r.at(field, 'needs a path (a.b.c; a|b for the first of two)');
    fields[name] = field.value;
  }
  try {
    const compiled = compileLineFormat(logFormat, { fields });
    return { logFormat, fields: Object.freeze(fields), compiled };
  } catch (err) {
    const message = (err as Error).message;
    if (!prop) throw err;
    if (JSON_FORMATS.includes(logFormat as JsonFormat)) throw r.at(prop, message);
    throw r.at(prop, `is neither ${NAMED_FORMATS.join(', ')} nor a usable format string: ${message}`);
  }
}

/** `logFormat` alone (the key's value as the conf checks it). */
export function readLogFormat(r: PropertyReader, key: string): string {
  return readLogFormatSetting(r, key.slice(0, key.lastIndexOf('.'))).logFormat;
}
