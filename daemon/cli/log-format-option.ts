import { compileUrlParser, NAMED_FORMATS } from '../logformat/log-format.js';
import { CliError } from '../errors.js';

/** `--log-format`: the values `a1.jobs.NAME.logFormat` takes, checked as the conf checks them. */
export function parseLogFormat(value: string): string {
  const named = NAMED_FORMATS.find((n) => n === value.toLowerCase());
  if (named) return named;
  try {
    compileUrlParser(value, false);
  } catch (err) {
    throw new CliError('LF_CLI_USAGE', `--log-format is neither ${NAMED_FORMATS.join(', ')} nor a usable format string: ${(err as Error).message}`);
  }
  return value;
}
