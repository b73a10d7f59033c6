import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as events from '../daemon/telemetry/events.js';
import { LogEvent, logEvent } from '../daemon/telemetry/log-event.js';
import { capturingLogger } from './helpers/logger.js';

/** The TypeScript sources (dist/test/ -> the repository's daemon/). */
const DAEMON = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../daemon');

const files = readdirSync(DAEMON, { withFileTypes: true, recursive: true })
  .filter((e) => e.isFile() && e.name.endsWith('.ts'))
  .map((e) => path.join(e.parentPath, e.name))
  .map((file) => ({ file: path.relative(DAEMON, file), text: readFileSync(file, 'utf8') }))
  .filter(({ file }) => !file.startsWith('telemetry/'));

test('an event writes its declared line, level and fields, and counts itself', () => {
  const { logger, lines } = capturingLogger();
  const failed = logEvent<{ err: string; attempt: number }>('warn', 'delivery failed; retrying');
  const migrated = logEvent<{ from: number; to: number }>('info', (f) => `migrated from ${f.from} to ${f.to}`);
  failed.emit(logger, { err: 'refused', attempt: 1 });
  failed.emitAt(logger, 'debug', { err: 'refused', attempt: 2 });
  migrated.emit(logger, { from: 0, to: 1 });
  const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(logged.map((l) => [l.level, l.msg, l.attempt ?? l.to]), [[40, 'delivery failed; retrying', 1], [20, 'delivery failed; retrying', 2], [30, 'migrated from 0 to 1', 1]]);
  assert.equal(logged[0]!.err, 'refused');
  assert.deepEqual([failed.count, migrated.count], [2, 1]);
});

test('daemon/ logs only through the events declared in telemetry/events.ts', () => {
  const byHand = files.flatMap(({ file, text }) => [...text.matchAll(/\b(?:log|logger|#log|#logger)\.(?:fatal|error|warn|info|debug|trace)\(|\blog\[/gi)].map((m) => `${file}: ${m[0]}`));
  assert.deepEqual(byHand, []);
});

test('every declared event is emitted somewhere in daemon/', () => {
  const declared = Object.entries(events).filter(([, e]) => e instanceof LogEvent).map(([name]) => name);
  assert.ok(declared.length > 40, `found ${declared.length} events`);
  const all = files.map((f) => f.text).join('\n');
  assert.deepEqual(declared.filter((name) => !new RegExp(`\\b${name}\\b`).test(all)), []);
});
