import { compileLineFormat, NAMED_FORMATS } from '../logformat/log-format.js';
import { FIELD_NAME, JSON_FORMATS, type JsonFormat } from '../logformat/json-format.js';
import { CliError } from '../errors.js';

/** `--log-format`: the values `a1.jobs.NAME.logFormat` takes, checked as the conf checks them (with `--field`s for JSON). */
export function parseLogFormat(value: string, fields: Readonly<Record<string, string>> = {}): string {
  const named = NAMED_FORMATS.find((n) => n === value.toLowerCase());
  const format = named ?? value;
  if (Object.keys(fields).length > 0 && !JSON_FORMATS.includes(format as JsonFormat)) {
    throw new CliError('LF_CLI_USAGE', `--field is for the JSON formats (${JSON_FORMATS.join(', ')}), not for --log-format ${JSON.stringify(format)}`);
  }
  try {
    compileLineFormat(format, { fields });
  } catch (err) {
    if (named) throw new CliError('LF_CLI_USAGE', `--log-format ${format}: ${(err as Error).message}`);
    throw new CliError('LF_CLI_USAGE', `--log-format is neither ${NAMED_FORMATS.join(', ')} nor a usable format string: ${(err as Error).message}`);
  }
  return format;
}

/** `--field NAME=PATH` (repeatable): a JSON format's fields. */
export function parseFields(specs: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = spec.slice(0, eq);
    if (eq < 1 || !FIELD_NAME.test(name) || eq === spec.length - 1) throw new CliError('LF_CLI_USAGE', `--field wants NAME=PATH (url=request.uri), not ${JSON.stringify(spec)}`);
    fields[name] = spec.slice(eq + 1);
  }
  return fields;
}
