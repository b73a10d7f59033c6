import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CHROMIUM, withBrowser } from './helpers/chromium.js';
import { tempDir, waitFor, withDaemon, writeConfig } from './helpers/daemon.js';

interface CheckBody {
  file: string;
  lines: number;
  best: string;
  formats: { format: string; parsed: number }[];
  failures: { line: number; byte: number; column: number; text: string; field: string; expected: string }[];
}

const good = (i: number) => `10.0.0.1 - - [01/Jan/2026:00:00:${String(i % 60).padStart(2, '0')} +0000] "GET /p/${i % 5} HTTP/1.1" 200 ${i}`;

describe('GET /api/files/:name/check and the dashboard\'s link', () => {
  test('explains a mostly-unparsed spool file after it completed; 404s name the problem; the spool table links it', async (t) => {
    const daemon = await withDaemon(t);
    const { dir } = daemon;
    // Three lines in four have a two-digit status: the file completes, mostly unparsed.
    const lines = Array.from({ length: 400 }, (_, i) => (i % 4 === 0 ? good(i) : good(i).replace('" 200 ', '" 20 ')));
    writeFileSync(path.join(dir, 'bad.log.staged'), lines.join('\n') + '\n');
    writeFileSync(path.join(dir, 'good.log.staged'), Array.from({ length: 100 }, (_, i) => good(i)).join('\n') + '\n');
    renameSync(path.join(dir, 'bad.log.staged'), path.join(dir, 'spool', 'bad.log'));
    renameSync(path.join(dir, 'good.log.staged'), path.join(dir, 'spool', 'good.log'));
    await waitFor('both files completed', async () => {
      const files = (await daemon.get<{ files: { state: string }[] }>('/api/files?state=completed')).body.files;
      return files.length === 2 ? true : undefined;
    });

    const res = await daemon.get<CheckBody>('/api/files/bad.log/check');
    assert.equal(res.status, 200);
    const body = res.body;
    assert.equal(body.file, 'bad.log.COMPLETED', 'found under its finished name');
    assert.equal(body.lines, 400);
    assert.deepEqual(body.formats.map((f) => [f.format, f.parsed]), [['combined', 0], ['common', 100], ['vhost_combined', 0], ['caddy', 0], ['traefik', 0]]);
    assert.equal(body.failures.length, 5);
    assert.deepEqual(body.failures[0], { line: 2, byte: lines[1]!.indexOf(' 20 ') + 1, column: lines[1]!.indexOf(' 20 ') + 1, text: lines[1], field: 'status', expected: 'expected 3 digits' });

    const unknown = await daemon.get<{ code: string; message: string }>('/api/files/nope.log/check');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.message, /has not seen a file "nope\.log"/);

    if (!CHROMIUM) return;
    const browser = await withBrowser(t);
    const page = await browser.newPage();
    await page.goto(daemon.url + '/');
    await page.waitForSelector('#files tr[data-name="good.log"]');
    assert.equal(await page.locator('#files tr[data-name="good.log"] button.why').count(), 0, 'a parsed file has no link');
    await page.click('#files tr[data-name="bad.log"] button.why');
    await page.waitForSelector('#check[open] pre');
    const text = await page.textContent('#check pre');
    assert.ok(text!.includes(`  ${lines[1]}\n  ${' '.repeat(lines[1]!.indexOf(' 20 ') + 1)}^ status: expected 3 digits`), text!);
  });
});

describe('GET /api/files/:name/check serves only the files the source read', () => {
  test('a link refused, a finished file replaced by a link, a followed link re-pointed: 404 naming why, and nothing of the secret in the answer or the log', async (t) => {
    const dir = tempDir();
    const secret = path.join(dir, 'secret');
    const secretLines = Array.from({ length: 20 }, (_, i) => `SECRET line ${i}`);
    writeFileSync(secret, secretLines.join('\n') + '\n');
    chmodSync(secret, 0o600);
    mkdirSync(path.join(dir, 'logs'));
    await writeConfig(dir, 'a1.sources.r1.followSymlinks = true\na1.sources.r1.symlinkRoots = logs\n');
    const daemon = await withDaemon(t, { dir });
    const spool = path.join(dir, 'spool');
    // Mostly unparsed, so the finisher reads it again for its warning's sample lines.
    const lines = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? good(i) : `junk ${i}`));
    writeFileSync(path.join(dir, 'logs', 'app.log'), lines.join('\n') + '\n');
    // (Not the same content as app.log: it would be a duplicate of whichever came first.)
    writeFileSync(path.join(dir, 'plain.log.staged'), [...lines, 'junk plain'].join('\n') + '\n');
    renameSync(path.join(dir, 'plain.log.staged'), path.join(spool, 'plain.log'));
    symlinkSync(path.join(dir, 'logs', 'app.log'), path.join(spool, 'linked.log'));
    symlinkSync(secret, path.join(spool, 'shadow.log'));
    let files: { name: string; state: string; reason: string | null }[] = [];
    await waitFor('two files completed and the link outside failed', async () => {
      files = (await daemon.get<{ files: typeof files }>('/api/files')).body.files;
      return files.filter((f) => f.state === 'completed').length === 2 && files.some((f) => f.state === 'failed') ? true : undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(files)}`);
    });
    const check = (name: string) => daemon.get<{ code: string; message: string; lines?: number; file?: string }>(`/api/files/${name}/check`);
    const followed = await check('linked.log');
    assert.equal(followed.status, 200);
    assert.deepEqual([followed.body.file, followed.body.lines], ['linked.log.COMPLETED', 40]);
    // The warning's samples are read again from the very file read: through the link too.
    const samples = daemon.logs.filter((l) => l.includes('most lines of the file did not parse')).map((l) => JSON.parse(l) as { file: string; samples: string[] });
    assert.deepEqual(samples.map((w) => [path.basename(w.file), w.samples]).sort(), [['linked.log', ['junk 1', 'junk 2', 'junk 3']], ['plain.log', ['junk 1', 'junk 2', 'junk 3']]]);

    const refused = await check('shadow.log');
    assert.equal(refused.status, 404);
    assert.equal(refused.body.code, 'LF_HTTP_FILE_NOT_READ');
    assert.match(refused.body.message, /^the source did not read shadow\.log \(a symbolic link to .*secret, outside symlinkRoots/);

    // Someone who may write to the spool swaps the finished names for links to the secret.
    unlinkSync(path.join(spool, 'plain.log.COMPLETED'));
    symlinkSync(secret, path.join(spool, 'plain.log.COMPLETED'));
    unlinkSync(path.join(spool, 'linked.log.COMPLETED'));
    symlinkSync(secret, path.join(spool, 'linked.log.COMPLETED'));
    for (const name of ['plain.log', 'linked.log']) {
      const r = await check(name);
      assert.equal(r.status, 404, name);
      assert.equal(r.body.code, 'LF_HTTP_FILE_REPLACED', name);
      assert.equal(r.body.message, `${name}.COMPLETED is not the file the source read (replaced, or its link re-pointed, since); not read`);
    }
    const everything = JSON.stringify([refused.body]) + daemon.logs.join('\n');
    assert.ok(!everything.includes('SECRET'), 'nothing of the secret in an answer or the log');
  });
});
