import assert from 'node:assert/strict';
import { ConfigError } from '../../daemon/errors.js';

/** The ConfigError that `parse(text)` throws; fails the test if it accepts the text or throws anything else. */
export function configErrorOf(parse: (text: string) => unknown, text: string): ConfigError {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err;
  }
  assert.fail('the configuration was accepted');
}
