import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const help = (script: string) => execFileSync(process.execPath, [path.join(DIST, script), '--help'], { encoding: 'utf8' });

describe('--help', () => {
  test('the daemon\'s names its environment variables and points to the README\'s Configuration section', () => {
    const text = help('daemon/main.js');
    assert.match(text, /^ {2}LOGFLOW_LOG_LEVEL +trace, debug, info \(default\)/m);
    assert.match(text, /^ {2}LOGFLOW_LOG_FORMAT +json:/m);
    assert.match(text, /README\.md,\nsection Configuration/);
  });

  test('the command line\'s points to the Configuration section and to the daemon\'s help', () => {
    const text = help('daemon/cli.js');
    assert.match(text, /README\.md, section Configuration/);
    assert.match(text, /LOGFLOW_LOG_LEVEL \/ LOGFLOW_LOG_FORMAT: npm start -- --help/);
    assert.match(text, /in the project folder/);
  });
});
