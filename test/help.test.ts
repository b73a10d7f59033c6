import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const help = (script: string) => execFileSync(process.execPath, [path.join(DIST, script), '--help'], { encoding: 'utf8' });

describe('--help', () => {
  test('the daemon\'s names its environment variables and points to docs/configuration.md', () => {
    const text = help('daemon/main.js');
    assert.match(text, /^ {2}LOGFLOW_LOG_LEVEL +trace, debug, info \(default\)/m);
    assert.match(text, /^ {2}LOGFLOW_LOG_FORMAT +json:/m);
    assert.match(text, /described in\ndocs\/configuration\.md\./);
  });

  test('the command line\'s points to docs/configuration.md and to the daemon\'s help', () => {
    const text = help('daemon/cli.js');
    assert.match(text, /described in docs\/configuration\.md\./);
    assert.match(text, /LOGFLOW_LOG_LEVEL \/ LOGFLOW_LOG_FORMAT: npm start -- --help/);
    assert.match(text, /in the project folder/);
  });
});
