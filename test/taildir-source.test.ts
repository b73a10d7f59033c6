import assert from 'node:assert/strict';
import { appendFileSync, closeSync, copyFileSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { tempDir, waitFor } from './helpers/daemon.js';
import { runTailSource } from './helpers/tail-source.js';

/** Line `i` of a test log: its URL is `/<tag>/<i>`, so every line is told apart. */
const line = (i: number, tag = 'p') => `10.0.0.${i % 250} - - [10/Oct/2000:13:55:36 -0700] "GET /${tag}/${i} HTTP/1.1" 200 ${i}\n`;
const lines = (from: number, n: number, tag = 'p') => Array.from({ length: n }, (_, k) => line(from + k, tag)).join('');
const bodies = (from: number, n: number, tag = 'p') => Array.from({ length: n }, (_, k) => line(from + k, tag).slice(0, -1));

/** Opens for appending, as a web server does (O_APPEND: every write goes to the current end). */
const openLog = (file: string) => openSync(file, 'a');

describe('TAILDIR source: lines as they are written', () => {
  test('a line is taken once its line feed is written: a partial line waits through a pause', async (t) => {
    const s = await runTailSource(t);
    const file = path.join(s.logs, 'access.log');
    const fd = openLog(file);
    writeSync(fd, lines(0, 3));
    await s.until(3);
    const half = line(3).slice(0, 30);
    writeSync(fd, half);
    // The source has looked at the file since the half line was written (its size counts it)...
    await waitFor('the half line seen', () => (s.followed('access.log')?.size === statSync(file).size ? true : undefined));
    // ...and took nothing of it: the position stays at the end of the last whole line (and
    // the bodies below would show a line cut in two).
    assert.equal(s.events.length, 3);
    assert.equal(s.followed('access.log')!.position, Buffer.byteLength(lines(0, 3)));
    assert.equal(s.followed('access.log')!.lagBytes, half.length);
    writeSync(fd, line(3).slice(30) + line(4));
    await s.until(5);
    closeSync(fd);
    assert.deepEqual(s.events.map((e) => e.body), bodies(0, 5));
  });

  test('a line longer than maxLineLength is cut there, written in steps, and counted once', async (t) => {
    const s = await runTailSource(t, 'a1.sources.r1.maxLineLength = 50');
    const file = path.join(s.logs, 'access.log');
    const fd = openLog(file);
    writeSync(fd, 'first line\n');
    await s.until(1);
    const long = 'x'.repeat(120);
    for (let k = 0; k < 120; k += 40) {
      writeSync(fd, long.slice(k, k + 40));
      await waitFor('the piece seen', () => (s.followed('access.log')?.size === statSync(file).size ? true : undefined));
    }
    writeSync(fd, '\nlast line\n');
    await s.until(3);
    closeSync(fd);
    assert.deepEqual(s.events.map((e) => e.body), ['first line', 'x'.repeat(50), 'last line']);
    assert.equal(s.source.truncatedLines, 1);
    assert.equal(s.followed('access.log')!.truncatedLines, 1);
  });

  test('headers.<group>.<key> and fileHeader reach every event of the group', async (t) => {
    const s = await runTailSource(t, [
      'a1.sources.r1.filegroups = f1 f2', 'a1.sources.r1.filegroups.f2 = logs/other\\.log',
      'a1.sources.r1.headers.f1.site = www', 'a1.sources.r1.headers.f2.site = api', 'a1.sources.r1.headers.f2.tier = back',
      'a1.sources.r1.fileHeader = true', 'a1.sources.r1.fileHeaderKey = path',
    ].join('\n'));
    appendFileSync(path.join(s.logs, 'access.log'), lines(0, 2));
    appendFileSync(path.join(s.logs, 'other.log'), lines(0, 1, 'o'));
    await s.until(3);
    const seen = s.events.map((e) => `${e.headers.site}|${e.headers.tier ?? ''}|${path.basename(e.headers.path!)}|${e.body.split('"')[1]}`).sort();
    assert.deepEqual(seen, ['api|back|other.log|GET /o/0 HTTP/1.1', 'www||access.log|GET /p/0 HTTP/1.1', 'www||access.log|GET /p/1 HTTP/1.1']);
  });
});

describe('TAILDIR source: batches and turns', () => {
  test('batchSize lines per batch; maxBatchCount batches from one file, then the next file has its turn', async (t) => {
    // Both files are there before the source starts: without maxBatchCount, one would be read whole first.
    const dir = tempDir();
    mkdirSync(path.join(dir, 'logs'));
    writeFileSync(path.join(dir, 'logs', 'access.log.a'), lines(0, 300, 'a'));
    writeFileSync(path.join(dir, 'logs', 'access.log.b'), lines(0, 300, 'b'));
    const s = await runTailSource(t, 'a1.sources.r1.batchSize = 10\na1.sources.r1.maxBatchCount = 2', dir);
    await s.until(600);
    const batchStarts = s.events.map((e, i) => (e.pos ? i : -1)).filter((i) => i >= 0);
    assert.deepEqual(batchStarts, Array.from({ length: 60 }, (_, k) => k * 10), 'a position header every 10 events');
    const runs: number[] = [];
    let last = '';
    for (const e of s.events) {
      const file = e.body.includes('/a/') ? 'a' : 'b';
      if (file === last) runs[runs.length - 1]!++;
      else runs.push(1);
      last = file;
    }
    assert.ok(Math.max(...runs) <= 20 && runs.length >= 30, `runs of at most 2 batches of 10: ${runs}`);
    assert.deepEqual(s.events.filter((e) => e.body.includes('/a/')).map((e) => e.body), bodies(0, 300, 'a'));
    assert.deepEqual(s.events.filter((e) => e.body.includes('/b/')).map((e) => e.body), bodies(0, 300, 'b'));
  });

  test('a file idle for idleTimeout is closed, and opened again when it grows', async (t) => {
    const s = await runTailSource(t, 'a1.sources.r1.idleTimeout = 200');
    const file = path.join(s.logs, 'access.log');
    writeFileSync(file, lines(0, 4));
    await s.until(4);
    await waitFor('closed once idle', () => (s.followed('access.log')?.state === 'closed' ? true : undefined));
    appendFileSync(file, lines(4, 3));
    await s.until(7);
    assert.deepEqual(s.events.map((e) => e.body), bodies(0, 7));
  });

  test('watch = false: polling alone finds new files, appends and renames', async (t) => {
    const s = await runTailSource(t, 'a1.sources.r1.watch = false\na1.sources.r1.pollDelay = 50');
    const file = path.join(s.logs, 'access.log');
    const fd = openLog(file);
    writeSync(fd, lines(0, 10));
    await s.until(10);
    renameSync(file, file + '.1');
    writeSync(fd, lines(10, 5));
    closeSync(fd);
    writeFileSync(file, lines(0, 7, 'new'));
    await s.until(22);
    assert.deepEqual(s.events.filter((e) => e.body.includes('/p/')).map((e) => e.body), bodies(0, 15));
    assert.deepEqual(s.events.filter((e) => e.body.includes('/new/')).map((e) => e.body), bodies(0, 7, 'new'));
    assert.deepEqual(s.source.followedList().map((f) => path.basename(f.path)).sort(), ['access.log', 'access.log.1']);
  });
});

describe('TAILDIR source: rotation', () => {
  test('rename-and-create: the old file is read to its end (its writer still writing), then the new one from 0', async (t) => {
    const s = await runTailSource(t);
    const file = path.join(s.logs, 'access.log');
    const old = openLog(file);
    writeSync(old, lines(0, 100));
    await s.until(100);
    const oldIno = statSync(file).ino;
    renameSync(file, file + '.1');
    // The writer has not reopened yet: its lines still go to the renamed file.
    writeSync(old, lines(100, 50));
    const fresh = openLog(file);
    writeSync(fresh, lines(0, 70, 'new'));
    writeSync(old, lines(150, 10));
    closeSync(old);
    await s.until(230);
    closeSync(fresh);
    const urls = s.events.map((e) => e.body.split('"')[1]);
    assert.equal(new Set(urls).size, 230, 'no line twice');
    assert.deepEqual(s.events.filter((e) => e.body.includes('/p/')).map((e) => e.body), bodies(0, 160));
    assert.deepEqual(s.events.filter((e) => e.body.includes('/new/')).map((e) => e.body), bodies(0, 70, 'new'));
    // Its lines came through the open descriptor; the new name shows once the source looked.
    const renamed = await waitFor('the rename seen', () => s.followed('access.log.1'));
    assert.equal(renamed.inode, oldIno);
    assert.equal(renamed.state, 'following');
  });

  test('renamed to a name no group matches: read to its end, its unfinished last line taken once it is left idle', async (t) => {
    const s = await runTailSource(t, 'a1.sources.r1.filegroups.f1 = logs/access\\.log\na1.sources.r1.idleTimeout = 300');
    const file = path.join(s.logs, 'access.log');
    const fd = openLog(file);
    writeSync(fd, lines(0, 20));
    await s.until(20);
    renameSync(file, path.join(s.logs, 'access.log-20260101'));
    writeSync(fd, lines(20, 5) + 'no line feed');
    closeSync(fd);
    await s.until(26);
    assert.deepEqual(s.events.map((e) => e.body), [...bodies(0, 25), 'no line feed']);
    await waitFor('the renamed file closed and dropped', () => (s.source.followedList().length === 0 ? true : undefined));
  });

  test('deleted while its writer still writes: read to its end', async (t) => {
    const s = await runTailSource(t);
    const file = path.join(s.logs, 'access.log');
    const fd = openLog(file);
    writeSync(fd, lines(0, 30));
    await s.until(30);
    unlinkSync(file);
    await waitFor('seen deleted', () => (s.followed('access.log')?.state === 'deleted' ? true : undefined));
    writeSync(fd, lines(30, 12));
    await s.until(42);
    closeSync(fd);
    assert.deepEqual(s.events.map((e) => e.body), bodies(0, 42));
  });

  test('copytruncate: a shrink starts over at 0; the same first line again is a new epoch of the same key', async (t) => {
    const s = await runTailSource(t, 'a1.sources.r1.filegroups.f1 = logs/access\\.log');
    const file = path.join(s.logs, 'access.log');
    const fd = openLog(file);
    writeSync(fd, lines(0, 40));
    await s.until(40);
    const key = s.followed('access.log')!.key;
    copyFileSync(file, file + '.1');
    truncateSync(file, 0);
    writeSync(fd, lines(100, 15)); // another first line: another key
    await s.until(55);
    assert.notEqual(s.followed('access.log')!.key, key);
    assert.equal(s.followed('access.log')!.epoch, 0);
    const key2 = s.followed('access.log')!.key;
    truncateSync(file, 0);
    writeSync(fd, lines(100, 3)); // the same first line as before the truncation
    await s.until(58);
    closeSync(fd);
    assert.equal(s.followed('access.log')!.key, key2);
    assert.equal(s.followed('access.log')!.epoch, 1);
    assert.deepEqual(s.events.map((e) => e.body), [...bodies(0, 40), ...bodies(100, 15), ...bodies(100, 3)]);
    // Positions only grow for a key: the new epoch's are above the old one's.
    const positions = s.events.filter((e) => e.pos?.startsWith(key2!)).map((e) => Number(e.pos!.split(':')[1]));
    assert.ok(positions.at(-1)! > 2 ** 40 && positions.at(-1)! > positions[0]!, `${positions}`);
  });

  test('a .gz rotation of a followed file is not read again; a .gz of another log is read whole', async (t) => {
    const s = await runTailSource(t, 'a1.sources.r1.idleTimeout = 300');
    const file = path.join(s.logs, 'access.log');
    const fd = openLog(file);
    writeSync(fd, lines(0, 60));
    await s.until(60);
    // logrotate's compress: gzip writes the .gz, then removes the original (still open here).
    writeFileSync(file + '.1.gz', gzipSync(readFileSync(file)));
    await waitFor('the .gz seen as a copy', () => (s.followed('access.log.1.gz')?.state === 'copy' ? true : undefined));
    unlinkSync(file);
    closeSync(fd);
    // Once the original is left idle, the copy is placed again: all of it was read.
    await waitFor('the copy done', () => (s.followed('access.log.1.gz')?.state === 'done' ? s.followed('access.log.1.gz') : undefined));
    writeFileSync(path.join(s.logs, 'access.log.9.gz'), gzipSync(lines(0, 25, 'old')));
    await s.until(85);
    await waitFor('the other .gz read', () => (s.followed('access.log.9.gz')?.state === 'done' ? true : undefined));
    assert.deepEqual(s.events.map((e) => e.body), [...bodies(0, 60), ...bodies(0, 25, 'old')]);
  });

  test('a .gz found while gzip still writes it is read once it is complete, even with no hint about it', async (t) => {
    const s = await runTailSource(t, 'a1.sources.r1.watch = false\na1.sources.r1.pollDelay = 50');
    const gz = path.join(s.logs, 'access.log.5.gz');
    const whole = gzipSync(lines(0, 25, 'gz'));
    writeFileSync(gz, whole.subarray(0, 10)); // the gzip header only: no first line yet
    // The directory's listing is then cached (its mtime is old): only the look at the .gz itself finds it complete.
    const past = new Date(Date.now() - 60_000);
    utimesSync(s.logs, past, past);
    await waitFor('the .gz waiting', () => (s.followed('access.log.5.gz')?.state === 'waiting' ? true : undefined));
    writeFileSync(gz, whole);
    await s.until(25);
    assert.deepEqual(s.events.map((e) => e.body), bodies(0, 25, 'gz'));
  });

  test('a name recreated after a delete is a new file, read from 0, even with the same first line', async (t) => {
    const s = await runTailSource(t, 'a1.sources.r1.filegroups.f1 = logs/access\\.log');
    const file = path.join(s.logs, 'access.log');
    writeFileSync(file, lines(0, 10));
    await s.until(10);
    unlinkSync(file);
    writeFileSync(file, lines(0, 4)); // same first line, new inode
    await s.until(14);
    assert.deepEqual(s.events.map((e) => e.body), [...bodies(0, 10), ...bodies(0, 4)]);
  });
});

describe('TAILDIR source: what is not a followed file', () => {
  test('a hard link is followed once; symbolic links and directories are not followed, with one warning each', async (t) => {
    const s = await runTailSource(t);
    const file = path.join(s.logs, 'access.log');
    writeFileSync(file, lines(0, 5));
    await s.until(5);
    linkSync(file, file + '.1');
    symlinkSync('/etc/hostname', path.join(s.logs, 'access.log.2'));
    mkdirSync(path.join(s.logs, 'access.log.3'));
    await waitFor('the three names looked at', () => {
      const msgs = s.log().map((l) => `${l.msg}|${path.basename(String(l.file))}`);
      return ['another name (a hard link) of a followed file: followed once, under its first name|access.log.1', 'not a regular file: not followed|access.log.2', 'not a regular file: not followed|access.log.3']
        .every((m) => msgs.includes(m)) ? true : undefined;
    });
    appendFileSync(file, lines(5, 3));
    await s.until(8);
    assert.deepEqual(s.events.map((e) => e.body), bodies(0, 8));
    assert.deepEqual(s.source.followedList().map((f) => path.basename(f.path)), ['access.log']);
    assert.equal(s.log().filter((l) => l.msg.startsWith('another name')).length, 1, 'warned once, not at every poll');
  });
});

describe('TAILDIR source: positions', () => {
  test("Flume's position file: written atomically in Flume's shape, and a restart without a checkpoint resumes there", async (t) => {
    const first = await runTailSource(t);
    const file = path.join(first.logs, 'access.log');
    writeFileSync(file, lines(0, 30));
    await first.until(30);
    await first.stop();
    const posFile = path.join(first.dir, 'state', 'taildir_position.json');
    const written = readFileSync(posFile, 'utf8');
    assert.equal(written, JSON.stringify([{ inode: statSync(file).ino, pos: statSync(file).size, file }]));
    assert.ok(!existsSync(posFile + '.tmp'));
    appendFileSync(file, lines(30, 5));
    const second = await runTailSource(t, '', first.dir);
    await second.until(5);
    assert.deepEqual(second.events.map((e) => e.body), bodies(30, 5));
  });

  test('a position file Flume wrote is honoured; skipToEnd applies only at the first start', async (t) => {
    const s1 = await runTailSource(t, 'a1.sources.r1.skipToEnd = true');
    const a = path.join(s1.logs, 'access.log');
    await s1.stop();
    assert.equal(s1.events.length, 0);
    // A Flume agent followed access.log up to line 20 and access.log.1 up to its line 3.
    writeFileSync(a, lines(0, 25));
    writeFileSync(a + '.1', lines(0, 8, 'one'));
    const posFile = path.join(s1.dir, 'state', 'taildir_position.json');
    writeFileSync(posFile, `[{"inode":${statSync(a).ino},"pos":${Buffer.byteLength(lines(0, 20))},"file":"${a}"},{"inode":${statSync(a + '.1').ino},"pos":${Buffer.byteLength(lines(0, 3, 'one'))},"file":"${a}.1"}]`);
    // Not the first start (the position file exists): skipToEnd does not skip a new file.
    writeFileSync(path.join(s1.logs, 'access.log.2'), lines(0, 2, 'two'));
    const s2 = await runTailSource(t, 'a1.sources.r1.skipToEnd = true', s1.dir);
    await s2.until(12);
    assert.deepEqual(s2.events.map((e) => e.body).sort(), [...bodies(20, 5), ...bodies(3, 5, 'one'), ...bodies(0, 2, 'two')].sort());
  });

  test('skipToEnd at the first start follows existing files from their last whole line', async (t) => {
    const s0 = await runTailSource(t);
    await s0.stop();
    const dir = s0.dir;
    const { rmSync } = await import('node:fs');
    rmSync(path.join(dir, 'state'), { recursive: true });
    const file = path.join(s0.logs, 'access.log');
    writeFileSync(file, lines(0, 50) + line(50).slice(0, 20));
    const s = await runTailSource(t, 'a1.sources.r1.skipToEnd = true', dir);
    appendFileSync(file, line(50).slice(20) + lines(51, 2));
    await s.until(3);
    assert.deepEqual(s.events.map((e) => e.body), bodies(50, 3));
  });
});
