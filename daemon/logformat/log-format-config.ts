import type { PropertyReader } from '../conf/index.js';
import { compileUrlParser, NAMED_FORMATS } from './log-format.js';

/** `logFormat`: a named format or a format string that compiles (also a counter's key). */
export function readLogFormat(r: PropertyReader, key: string): string {
  const prop = r.raw(key);
  if (!prop) return 'auto';
  const named = NAMED_FORMATS.find((n) => n === prop.value.toLowerCase());
  if (named) return named;
  try {
    compileUrlParser(prop.value, false);
  } catch (err) {
    throw r.at(prop, `is neither ${NAMED_FORMATS.join(', ')} nor a usable format string: ${(err as Error).message}`);
  }
  return prop.value;
}
