import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, realpathSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { waitFor, visible } from './helpers/daemon.js';
import { capturingLogger } from './helpers/logger.js';
import { runSource } from './helpers/spool-source.js';

const goodLines = Array.from({ length: 30_000 }, (_, i) => `good ${i}`);
/** A 2.4 MB file: more than one read chunk (1 MB), so it can be changed between two reads. */
const bigLines = Array.from({ length: 200_000 }, (_, i) => `big ${String(i).padStart(7, '0')}`);

type Run = Awaited<ReturnType<typeof runSource>>;

function bodiesOf(run: Run, file: string): string[] {
  return run.events.filter((e) => e.file === file).map((e) => e.body);
}

function statusOf(run: Run, name: string) {
  return run.source.fileList().find((f) => f.name === name && f.state !== 'pending');
}

/** The `not a regular file: skipped` warnings, as `name: kind`. */
function skipped(lines: string[]): string[] {
  return lines.map((l) => JSON.parse(l) as { msg: string; file: string; kind: string }).filter((l) => l.msg === 'not a regular file: skipped').map((l) => `${path.basename(l.file)}: ${l.kind}`).sort();
}

async function settled(run: Run, completed: number, failed: number): Promise<void> {
  await waitFor(`${completed} completed and ${failed} failed`, () => {
    const c = run.source.files.counts();
    return c.completed === completed && c.failed === failed && c.pending === 0 && c.inProgress === 0 ? c : undefined;
  });
}

/** Waits until the source has read the first chunk of `name` and is blocked on the full channel. */
async function blockedIn(run: Run, name: string): Promise<void> {
  await waitFor(`${name} blocked mid-read`, () => {
    const f = run.source.fileList().find((s) => s.name === name);
    return f?.state === 'reading' && f.bytesRead >= 1 << 20 ? f : undefined;
  });
}

describe('spool directory: hostile files', () => {
  test('invalid UTF-8, decodeErrorPolicy = FAIL (the default): the lines before are counted, the file is renamed .FAILED with the line; others go on', async (t) => {
    const run = await runSource(t, '', (spool) => {
      writeFileSync(path.join(spool, 'bad.log'), Buffer.concat([Buffer.from('ok 1\nok 2\nbad \xff\xfe here\n', 'latin1'), Buffer.from('ok 4\n')]));
      writeFileSync(path.join(spool, 'good.log'), goodLines.join('\n') + '\n');
    });
    await settled(run, 1, 1);
    assert.deepEqual(bodiesOf(run, 'bad.log'), ['ok 1', 'ok 2']);
    assert.deepEqual(bodiesOf(run, 'good.log'), goodLines);
    const bad = statusOf(run, 'bad.log')!;
    assert.equal(bad.state, 'failed');
    assert.match(bad.reason!, /line 3 \(byte 10\) is not valid UTF-8 \(decodeErrorPolicy = FAIL\); the 2 lines before it were read; renamed bad\.log\.FAILED/);
    assert.equal(bad.lines, 2);
    assert.ok(existsSync(path.join(run.spool, 'bad.log.FAILED')));
  });

  test('decodeErrorPolicy = REPLACE puts U+FFFD for each bad sequence; IGNORE drops the bad bytes; valid UTF-8 and NUL bytes pass as they are', async (t) => {
    const content = Buffer.concat([Buffer.from('caf\xc3\xa9 ok\n', 'latin1'), Buffer.from('a\xffb\xc3(c\xed\xa0\x80d\n', 'latin1'), Buffer.from('nul\x00byte\n', 'latin1')]);
    const replace = await runSource(t, 'a1.sources.r1.decodeErrorPolicy = REPLACE\n', (spool) => writeFileSync(path.join(spool, 'r.log'), content));
    const ignore = await runSource(t, 'a1.sources.r1.decodeErrorPolicy = IGNORE\n', (spool) => writeFileSync(path.join(spool, 'i.log'), content));
    await settled(replace, 1, 0);
    await settled(ignore, 1, 0);
    assert.deepEqual(bodiesOf(replace, 'r.log'), ['café ok', 'a\uFFFDb\uFFFD(c\uFFFD\uFFFD\uFFFDd', 'nul\0byte']);
    assert.deepEqual(bodiesOf(ignore, 'i.log'), ['café ok', 'ab(cd', 'nul\0byte']);
    assert.match(statusOf(replace, 'r.log')!.reason!, /^1 lines with invalid UTF-8 \(decodeErrorPolicy = REPLACE\)$/);
    assert.ok(existsSync(path.join(replace.spool, 'r.log.COMPLETED')));
  });

  test('a lone CR is not a line end (as in Flume): CR-only files come as lines cut at maxLineLength, counted as truncated', async (t) => {
    const run = await runSource(t, 'a1.sources.r1.maxLineLength = 20\n', (spool) => {
      writeFileSync(path.join(spool, 'mixed.log'), 'a\rb\r\nc\r\r\n');
      writeFileSync(path.join(spool, 'cr-only.log'), 'line one\rline two\rline three\r');
    });
    await settled(run, 2, 0);
    assert.deepEqual(bodiesOf(run, 'mixed.log'), ['a\rb', 'c\r']);
    assert.deepEqual(bodiesOf(run, 'cr-only.log'), ['line one\rline two\rli']);
    assert.equal(statusOf(run, 'cr-only.log')!.truncatedLines, 1);
  });

  test('a file that grows while read is still being written: it is read on to its new end and completed; the next file is read whole', async (t) => {
    const run = await runSource(t, '', (spool) => writeFileSync(path.join(spool, 'grows.log'), bigLines.join('\n') + '\n'), true);
    await blockedIn(run, 'grows.log');
    appendFileSync(path.join(run.spool, 'grows.log'), 'appended later\n');
    writeFileSync(path.join(run.spool, 'next.log'), goodLines.join('\n') + '\n');
    run.release();
    await settled(run, 2, 0);
    assert.deepEqual(bodiesOf(run, 'grows.log'), [...bigLines, 'appended later']);
    assert.deepEqual(bodiesOf(run, 'next.log'), goodLines);
    const f = statusOf(run, 'grows.log')!;
    assert.equal(f.reason, undefined);
    assert.equal(f.size, 2400015);
    assert.equal(f.lines, bigLines.length + 1);
  });

  test('a file rewritten with other bytes while read (same size, new mtime) ends .FAILED with the reason', async (t) => {
    const run = await runSource(t, '', (spool) => writeFileSync(path.join(spool, 'rewritten.log'), bigLines.join('\n') + '\n'), true);
    await blockedIn(run, 'rewritten.log');
    const p = path.join(run.spool, 'rewritten.log');
    writeFileSync(p, bigLines.map((l) => l.replace('big', 'BIG')).join('\n') + '\n');
    utimesSync(p, new Date(), new Date(Date.now() + 5000));
    run.release();
    await settled(run, 0, 1);
    assert.match(statusOf(run, 'rewritten.log')!.reason!, /^was rewritten while it was read \(2400000 -> 2400000 bytes\); its first 2400000 bytes were read; renamed rewritten\.log\.FAILED$/);
  });

  test('a file that shrinks while read: the lines read before are counted, none after; .FAILED with the reason', async (t) => {
    const run = await runSource(t, '', (spool) => writeFileSync(path.join(spool, 'shrinks.log'), bigLines.join('\n') + '\n'), true);
    await blockedIn(run, 'shrinks.log');
    truncateSync(path.join(run.spool, 'shrinks.log'), 100);
    run.release();
    await settled(run, 0, 1);
    const got = bodiesOf(run, 'shrinks.log');
    assert.ok(got.length > 0 && got.length < bigLines.length, `${got.length} lines`);
    // The last line read may be cut where the file ended; every other is whole, in order.
    assert.deepEqual(got.slice(0, -1), bigLines.slice(0, got.length - 1));
    const f = statusOf(run, 'shrinks.log')!;
    assert.match(f.reason!, /^shrank while it was read \(2400000 -> 100 bytes\); its first \d+ bytes were read; renamed shrinks\.log\.FAILED$/);
    assert.equal(f.lines, got.length);
  });

  test('a file removed while read is read whole through its open descriptor and reported', async (t) => {
    const run = await runSource(t, '', (spool) => writeFileSync(path.join(spool, 'removed.log'), bigLines.join('\n') + '\n'), true);
    await blockedIn(run, 'removed.log');
    unlinkSync(path.join(run.spool, 'removed.log'));
    run.release();
    await settled(run, 1, 0);
    assert.deepEqual(bodiesOf(run, 'removed.log'), bigLines);
    assert.match(statusOf(run, 'removed.log')!.reason!, /removed from the spool directory while it was read/);
  });

  test('a file name used again after the first file completed: the new file is read too and renamed NAME.1.COMPLETED', async (t) => {
    const run = await runSource(t, '', (spool) => {
      writeFileSync(path.join(spool, 'dup.log'), 'again\n');
      writeFileSync(path.join(spool, 'dup.log.COMPLETED'), 'old\n');
    });
    await settled(run, 1, 0);
    writeFileSync(path.join(run.spool, 'dup.log'), 'third\n');
    await settled(run, 2, 0);
    assert.deepEqual(bodiesOf(run, 'dup.log'), ['again', 'third']);
    assert.deepEqual(readdirSync(run.spool).filter(visible).sort(), ['dup.log.1.COMPLETED', 'dup.log.2.COMPLETED', 'dup.log.COMPLETED']);
    const keys = run.source.fileList().filter((f) => f.name === 'dup.log').map((f) => f.key);
    assert.equal(new Set(keys).size, 2, 'each file has its own position key');
  });

  test('symbolic links are not followed by default: each is listed failed and renamed .FAILED, nothing outside the spool is read; a directory and a FIFO are skipped with a warning', async (t) => {
    const { logger, lines } = capturingLogger();
    const run = await runSource(t, '', (spool) => {
      const outside = path.join(path.dirname(spool), 'outside');
      mkdirSync(outside);
      writeFileSync(path.join(outside, 'secret'), 'SECRET outside the spool\n');
      execFileSync('mkfifo', [path.join(spool, 'pipe.log')]);
      mkdirSync(path.join(spool, 'dir.log'));
      symlinkSync(path.join(outside, 'secret'), path.join(spool, 'link.log'));
      symlinkSync(path.join(outside, 'nowhere'), path.join(spool, 'dangling.log'));
      writeFileSync(path.join(spool, 'good.log'), goodLines.join('\n') + '\n');
    }, false, logger);
    await settled(run, 1, 2);
    assert.deepEqual(bodiesOf(run, 'good.log'), goodLines);
    assert.deepEqual(bodiesOf(run, 'link.log'), []);
    assert.match(statusOf(run, 'link.log')!.reason!, /^a symbolic link \(to .*outside\/secret\): not followed \(followSymlinks = false\); renamed link\.log\.FAILED$/);
    assert.match(statusOf(run, 'dangling.log')!.reason!, /^a symbolic link \(to .*outside\/nowhere\): not followed/);
    assert.equal(statusOf(run, 'link.log')!.opened, undefined, 'never opened');
    assert.deepEqual(readdirSync(run.spool).filter(visible).sort(), ['dangling.log.FAILED', 'dir.log', 'good.log.COMPLETED', 'link.log.FAILED', 'pipe.log']);
    assert.ok(!lines.some((l) => l.includes('SECRET')), 'nothing of the outside file in the log');
    assert.deepEqual(skipped(lines), ['dir.log: a directory', 'pipe.log: a FIFO']);
  });

  test('followSymlinks = true reads a link whose target is inside symlinkRoots; one outside is failed unread; a dangling link and a link to a FIFO are skipped with one warning each', async (t) => {
    const { logger, lines } = capturingLogger();
    let root = '';
    const run = await runSource(t, 'a1.sources.r1.followSymlinks = true\na1.sources.r1.symlinkRoots = logs\n', (spool) => {
      root = path.join(path.dirname(spool), 'logs');
      const outside = path.join(path.dirname(spool), 'outside');
      mkdirSync(root);
      mkdirSync(outside);
      writeFileSync(path.join(root, 'app'), 'via link\n');
      writeFileSync(path.join(outside, 'secret'), 'SECRET outside the root\n');
      execFileSync('mkfifo', [path.join(root, 'pipe')]);
      symlinkSync(path.join(root, 'app'), path.join(spool, 'link.log'));
      // A relative link that climbs out of the root through it: resolved, then refused.
      symlinkSync('../logs/../outside/secret', path.join(spool, 'escape.log'));
      symlinkSync(path.join(root, 'pipe'), path.join(spool, 'to-pipe.log'));
      symlinkSync(path.join(root, 'nowhere'), path.join(spool, 'dangling.log'));
    }, false, logger);
    await settled(run, 1, 1);
    await waitFor('the dangling link warned about', () => (skipped(lines).length === 2 ? true : undefined));
    assert.deepEqual(bodiesOf(run, 'link.log'), ['via link']);
    assert.deepEqual(bodiesOf(run, 'escape.log'), []);
    assert.match(statusOf(run, 'escape.log')!.reason!, /^a symbolic link to .*\/outside\/secret, outside symlinkRoots \(.*\/logs\): not followed; renamed escape\.log\.FAILED$/);
    assert.deepEqual(statusOf(run, 'link.log')!.opened?.target, path.join(realpathSync(root), 'app'));
    assert.deepEqual(readdirSync(run.spool).filter(visible).sort(), ['dangling.log', 'escape.log.FAILED', 'link.log.COMPLETED', 'to-pipe.log']);
    assert.deepEqual(skipped(lines), ['dangling.log: a dangling symbolic link (to ' + path.join(root, 'nowhere') + ', which does not exist)', 'to-pipe.log: a symbolic link to a FIFO']);
    assert.ok(!lines.some((l) => l.includes('SECRET')), 'nothing of the outside file in the log');
  });

  test('names with a line break or an invalid UTF-8 byte are listed failed and renamed .FAILED (their bytes kept), not passed over', async (t) => {
    const newline = Buffer.from('two\nlines.log');
    const latin1 = Buffer.from('caf\xe9.log', 'latin1');
    const run = await runSource(t, '', (spool) => {
      writeFileSync(Buffer.concat([Buffer.from(spool + '/'), newline]), 'not read\n');
      writeFileSync(Buffer.concat([Buffer.from(spool + '/'), latin1]), 'not read\n');
      writeFileSync(path.join(spool, 'good.log'), goodLines.join('\n') + '\n');
    });
    await settled(run, 1, 2);
    assert.deepEqual(run.events.filter((e) => e.file !== 'good.log'), []);
    assert.match(statusOf(run, 'two\\nlines.log')!.reason!, /^its name contains a control character .*: not read; renamed two\\nlines\.log\.FAILED$/);
    assert.match(statusOf(run, 'caf\\xe9.log')!.reason!, /^its name is not valid UTF-8: not read; renamed caf\\xe9\.log\.FAILED$/);
    const names = readdirSync(run.spool, { encoding: 'buffer' }).filter((n) => n[0] !== 46).map((n) => n.toString('latin1')).sort();
    assert.deepEqual(names, ['caf\xe9.log.FAILED', 'good.log.COMPLETED', 'two\nlines.log.FAILED']);
  });

  test('a file without read permission is renamed .FAILED with the reason; the others go on', async (t) => {
    // Root reads a mode-000 file: the source then runs with the effective uid of `nobody`.
    const asRoot = process.getuid?.() === 0;
    const run = await runSource(t, '', (spool) => {
      writeFileSync(path.join(spool, 'secret.log'), 'x\n');
      chmodSync(path.join(spool, 'secret.log'), 0o000);
      writeFileSync(path.join(spool, 'good.log'), goodLines.join('\n') + '\n');
      if (asRoot) {
        chmodSync(path.dirname(spool), 0o777);
        chmodSync(spool, 0o777);
        process.seteuid!(65534);
      }
    });
    try {
      await settled(run, 1, 1);
      await run.stop();
    } finally {
      if (asRoot) process.seteuid!(0);
    }
    assert.match(statusOf(run, 'secret.log')!.reason!, /EACCES.*renamed secret\.log\.FAILED/);
    assert.deepEqual(bodiesOf(run, 'good.log'), goodLines);
  });
});
