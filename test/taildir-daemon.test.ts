import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { tempDir, waitFor, withDaemon } from './helpers/daemon.js';
import { expectLines, LogWriter } from './helpers/log-writer.js';
import { assertTop, counted, lineText, tailAgent, total, type Followed } from './helpers/tail-daemon.js';

describe('TAILDIR against the real daemon, with a real writer', () => {
  test('pauses of seconds, a line written in two parts, rename-and-create, a .gz rotation, a file deleted while written, a name recreated, copytruncate: each line counted once', { timeout: 90_000 }, async (t) => {
    const dir = tempDir();
    await tailAgent(dir);
    const d = await withDaemon(t, { dir });
    const w = new LogWriter();
    const ct = new LogWriter();
    t.after(() => {
      w.kill();
      ct.kill();
    });
    const expected = new Map<string, number>();
    const log = path.join(dir, 'logs', 'access.log');
    type Lines = [tag: string, from: number, n: number];
    /** Lines written by `writer`, and expected. */
    const write = async (writer: LogWriter, [tag, from, n]: Lines) => {
      await writer.do('lines', { tag, from, n });
      expectLines(expected, tag, from, n);
    };
    /** logrotate's default: renamed to `to`, the server writes on through its descriptor (`tail`), then reopens the name (`fresh`). */
    const rotate = async (to: string, tail: Lines, fresh: Lines) => {
      await w.do('rename', { from: log, to });
      await write(w, tail);
      await w.do('reopen');
      await write(w, fresh);
      await counted(d, total(expected));
    };

    await w.do('open', { file: log });
    await write(w, ['a', 0, 1000]);
    await counted(d, total(expected));

    // Half a line, then a pause of 3 s (longer than every timer of the source), then its rest.
    const half = lineText('a', 1000).slice(0, 40);
    await w.do('write', { text: half });
    await waitFor('the half line seen', async () => ((await d.get<Followed>('/api/followed')).body.files.find((f) => f.path === log)?.lagBytes === half.length ? true : undefined));
    await w.do('pause', { ms: 3000 });
    await w.do('write', { text: lineText('a', 1000).slice(40) });
    expectLines(expected, 'a', 1000, 1);
    await write(w, ['a', 1001, 500]);
    await counted(d, total(expected));

    await rotate(log + '.1', ['a', 1501, 300], ['b', 0, 400]);

    // The next rotation with compress + delaycompress: .1 is gzipped (and removed), the live file becomes .1.
    await w.do('gzip', { file: log + '.1', to: log + '.2.gz' });
    await rotate(log + '.1', ['b', 400, 50], ['c', 0, 200]);
    const gz = await waitFor('the .gz looked at', async () => (await d.get<Followed>('/api/followed')).body.files.find((f) => f.path.endsWith('.2.gz') && (f.state === 'copy' || f.state === 'done')));
    assert.ok(gz);

    // Deleted while the server still writes to it, then a new file under the same name,
    // whose first line is the same as the deleted one's.
    await w.do('unlink', { file: log });
    await write(w, ['c', 200, 100]);
    await w.do('reopen');
    await write(w, ['c', 0, 150]);

    // copytruncate, on a file followed by its live name only.
    const app = path.join(dir, 'ct', 'app.log');
    await ct.do('open', { file: app });
    await write(ct, ['e', 0, 300]);
    await counted(d, total(expected));
    await ct.do('copytruncate', { file: app, to: app + '.1' });
    await write(ct, ['f', 0, 200]);

    const stats = await counted(d, total(expected));
    assert.equal(stats.duplicates, 0, 'nothing was sent twice (the .gz was not read again)');
    assert.equal(stats.parseErrors, 0);
    await assertTop(d, expected);
    assert.equal(await d.stop('SIGTERM'), 0);
  });
});
