import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ResultsStore } from '../daemon/store/index.js';
import { tempDir, writeConfig } from './helpers/daemon.js';
import { startUpFailure } from './helpers/start-fails.js';
import { canMountTmpfs } from './helpers/tmpfs.js';



describe('start-up errors name the configuration key to change', () => {
  const blockers: net.Server[] = [];
  const mounts: string[] = [];
  after(() => {
    blockers.forEach((s) => s.close());
    for (const m of mounts) execFileSync('umount', [m]);
  });
  const occupiedPort = async () => {
    const srv = net.createServer();
    blockers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    return (srv.address() as net.AddressInfo).port;
  };

  test('a port in use: the job\'s receiver names a1.jobs.j1.port, the HTTP server a1.http.port', async () => {
    const busy = String(await occupiedPort());
    const jobDir = tempDir();
    await writeConfig(jobDir, '', { 'a1.jobs.j1.port': busy, 'a1.sinks.k1.port': busy });
    assert.match(await startUpFailure(jobDir), new RegExp(`^logflow: .*agent\\.conf: a1\\.jobs\\.j1\\.port: listen EADDRINUSE.*127\\.0\\.0\\.1:${busy}; another process listens there`));
    const httpDir = tempDir();
    await writeConfig(httpDir, '', { 'a1.http.port': busy });
    assert.match(await startUpFailure(httpDir), /^logflow: .*agent\.conf: a1\.http\.port: listen EADDRINUSE.*; another process listens there/);
  });

  test('a spool directory that cannot be made or written names spoolDir and why it must be writable', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'not-a-dir'), '');
    await writeConfig(dir, '', { 'a1.sources.r1.spoolDir': 'not-a-dir/spool' });
    assert.match(await startUpFailure(dir), /^logflow: .*agent\.conf: a1\.sources\.r1\.spoolDir: .*not-a-dir\/spool: ENOTDIR: the daemon needs read and write access to the spool directory \(it renames finished files there\)$/);
  });

  test('a results database the job thread cannot open names the file and a1.jobs.j1.database, not "undefined"', async () => {
    const dir = tempDir();
    await writeConfig(dir);
    // A directory where the database file should be: SQLite cannot open it, as with a volume the uid may not write.
    mkdirSync(path.join(dir, 'data', 'results.db'), { recursive: true });
    const message = await startUpFailure(dir);
    assert.match(message, /^logflow: .*agent\.conf: a1\.jobs\.j1\.database: cannot open the results database .*data\/results\.db: .*\(SQLITE_CANTOPEN\); the daemon needs read and write access there/);
    assert.doesNotMatch(message, /undefined/);
  });

  test('a full file system names the file and says to free space (not to change its owner): the database, the checkpoint directory, the spool\'s records', { skip: canMountTmpfs() ? false : 'mounting a tmpfs is not permitted here' }, async () => {
    const full = (dir: string, sub: string) => {
      const p = path.join(dir, sub);
      mkdirSync(p, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', p]);
      mounts.push(p);
      assert.throws(() => writeFileSync(path.join(p, '.filler'), Buffer.alloc(1 << 20)), /ENOSPC/);
    };
    const cases: [string, RegExp][] = [
      ['data', /a1\.jobs\.j1\.database: cannot open the results database \S+\/data\/results\.db: database or disk is full \(SQLITE_FULL\); its file system is full: free space there/],
      ['checkpoint', /a1\.jobs\.j1\.checkpointDir: \S+\/checkpoint\/\S+: .*full.*; its file system is full: free space there/],
      ['spool', /a1\.sources\.r1\.trackerDir: cannot open the source's records of finished files \S+\/spool\/\.flumespool\/files\.db: database or disk is full \(SQLITE_FULL\); its file system is full: free space there/],
    ];
    for (const [sub, want] of cases) {
      const dir = tempDir();
      await writeConfig(dir);
      full(dir, sub);
      const message = await startUpFailure(dir);
      assert.match(message, want);
      assert.doesNotMatch(message, /owner|access/);
    }
  });

  test('a damaged database names the file and says what to do (not to change its owner): results.db, the spool\'s files.db', async () => {
    const dir = tempDir();
    await writeConfig(dir);
    mkdirSync(path.join(dir, 'data'));
    writeFileSync(path.join(dir, 'data', 'results.db'), Buffer.alloc(8192, 7));
    assert.match(await startUpFailure(dir), /a1\.jobs\.j1\.database: cannot open the results database \S+\/data\/results\.db: file is not a database \(SQLITE_NOTADB\); the file is not a SQLite database or is damaged: put back a good copy, or move it away/);
    const other = tempDir();
    await writeConfig(other);
    mkdirSync(path.join(other, 'spool', '.flumespool'), { recursive: true });
    writeFileSync(path.join(other, 'spool', '.flumespool', 'files.db'), Buffer.alloc(8192, 7));
    assert.match(await startUpFailure(other), /a1\.sources\.r1\.trackerDir: cannot open the source's records of finished files \S+\/files\.db: file is not a database \(SQLITE_NOTADB\); the file is not a SQLite database or is damaged/);
  });
});

describe('a directory or database of another user names the file, whose it is and the way out', () => {
  test('the results database, then the spool: both uids and what to do; in the image, LOGFLOW_UID and compose commands', async () => {
    const asRoot = process.getuid?.() === 0;
    // As root the daemon runs as nobody (root may write anything); otherwise the files lose their write bits.
    const runAs = asRoot ? { uid: 65534, gid: 65534 } : {};
    const self = asRoot ? 65534 : process.getuid!();
    const dir = tempDir();
    chmodSync(dir, 0o777);
    await writeConfig(dir);
    const database = path.join(dir, 'data', 'results.db');
    new ResultsStore(database).close();
    chmodSync(path.dirname(database), 0o1777); // as the image's volumes: anyone may add files, not change others'
    const spool = path.join(dir, 'spool');
    mkdirSync(spool);
    if (!asRoot) chmodSync(database, 0o444);
    const failure = (env: Record<string, string> = {}) => startUpFailure(dir, { ...runAs, env });
    const owner = asRoot ? `belongs to uid 0 \\(mode 644\\) and the daemon runs as uid ${self}` : `belongs to the daemon's uid \\(${self}\\) but is not writable \\(mode 444\\)`;
    const db = await failure();
    assert.match(db, new RegExp(`a1\\.jobs\\.j1\\.database: cannot open the results database .*data/results\\.db: attempt to write a readonly database \\(SQLITE_READONLY\\); .*data/results\\.db ${owner}`));
    if (asRoot) {
      assert.match(db, /: run the daemon as uid 0, or give it to uid 65534 \(chown -R 65534:65534 .*results\.db\)$/);
      const inImage = await failure({ LOGFLOW_CONTAINER: 'docker' });
      assert.match(inImage, /the container's user \(LOGFLOW_UID, default 1000; volumes keep the owner that wrote them\): run as that uid again \(LOGFLOW_UID=0 LOGFLOW_GID=0 docker compose up -d\), give the volumes to uid 65534 once \(docker compose run --rm --user root logflow chown -R 65534:65534 \/app\/checkpoint \/app\/data\), or start afresh \(docker compose down -v: deletes the counts\)$/);
      chownSync(database, 65534, 65534);
      chmodSync(spool, 0o755);
    } else {
      chmodSync(database, 0o644);
      // SQLite made its -wal and -shm with the database's mode: read-only too.
      for (const f of [`${database}-wal`, `${database}-shm`]) rmSync(f, { force: true });
      chmodSync(spool, 0o555);
    }
    const spoolOwner = asRoot ? `belongs to uid 0 \\(mode 755\\) and the daemon runs as uid ${self}` : `belongs to the daemon's uid \\(${self}\\) but is not writable \\(mode 555\\)`;
    const inImage = await failure({ LOGFLOW_CONTAINER: 'docker' });
    assert.match(inImage, new RegExp(`a1\\.sources\\.r1\\.spoolDir: .*spool: EACCES: the daemon needs read and write access to the spool directory \\(it renames finished files there\\); .*spool ${spoolOwner}`));
    if (asRoot) assert.match(inImage, /the container's user \(LOGFLOW_UID, default 1000\): give the host's spool directory to it \(sudo chown -R 65534:65534 spool\), or run the container as its owner \(LOGFLOW_UID=0 LOGFLOW_GID=0 docker compose up -d\)$/);
  });
});
