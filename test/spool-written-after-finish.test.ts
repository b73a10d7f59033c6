import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { tempDir, waitFor, withDaemon, writeConfig } from './helpers/daemon.js';
import { LogWriter } from './helpers/log-writer.js';

interface FileEntry {
  name: string;
  state: string;
  lines: number;
  reason: string | null;
  writtenAfterFinish: number | null;
}

const lineText = (tag: string, i: number) => `10.0.0.${i % 250} - - [10/Oct/2000:13:55:36 -0700] "GET /${tag}/${i % 97} HTTP/1.1" 200 ${i}\n`;
const bytesOf = (tag: string, from: number, n: number) => Array.from({ length: n }, (_, k) => Buffer.byteLength(lineText(tag, from + k))).reduce((a, b) => a + b, 0);

/**
 * Issue 22 item 8 / issue 25 item 7: a writer that pauses longer than the spool source waits
 * and then goes on writes into a file the source has finished. Its lines are not counted (the
 * spool is for finished files); what matters is that this is no longer silent.
 */
describe('a spooled file written to after the source finished it', () => {
  for (const deletePolicy of ['never', 'immediate'] as const) {
    test(`deletePolicy = ${deletePolicy}: a warning names the file and the bytes not counted, /api/files marks it, both point to TAILDIR`, { timeout: 60_000 }, async (t) => {
      const dir = tempDir();
      await writeConfig(dir, '', { 'a1.sources.r1.deletePolicy': deletePolicy, 'a1.jobs.j1.batchInterval': '0.25' });
      const d = await withDaemon(t, { dir });
      const w = new LogWriter();
      t.after(() => w.kill());
      const file = path.join(dir, 'spool', 'live.log');
      await w.do('open', { file });
      await w.do('lines', { tag: 'w', from: 0, n: 2000 });
      // The writer pauses until the source has finished the file...
      await waitFor('live.log completed', async () => (await d.get<{ files: FileEntry[] }>('/api/files')).body.files.find((f) => f.name === 'live.log' && f.state === 'completed'));
      if (deletePolicy === 'never') assert.ok(existsSync(file + '.COMPLETED'));
      // ...then goes on through its descriptor.
      await w.do('lines', { tag: 'w', from: 2000, n: 1000 });
      const late = bytesOf('w', 2000, 1000);
      const entry = await waitFor('the late bytes reported', async () => (await d.get<{ files: FileEntry[] }>('/api/files')).body.files.find((f) => f.name === 'live.log' && f.writtenAfterFinish === late));
      assert.equal(entry.lines, 2000);
      assert.match(entry.reason!, new RegExp(`written to after it was finished: ${late} bytes not counted .*TAILDIR`));
      const warning = d.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg?.toString().includes('was written to after the spool source finished it'));
      assert.ok(warning, 'a warning was logged');
      assert.equal(warning.file, file);
      assert.equal(warning.level, 40);
      assert.ok((warning.bytesNotCounted as number) > 0 && (warning.bytesNotCounted as number) <= late);
      assert.match(String(warning.msg), /^live\.log was written to after the spool source finished it: \d+ bytes were not counted .*TAILDIR/);
      const counted = await waitFor('the finished file counted', async () => {
        const { body } = await d.get<{ eventsCounted: number }>('/api/stats');
        return body.eventsCounted >= 2000 ? body.eventsCounted : undefined;
      });
      assert.equal(counted, 2000, 'the spool counts what was there when it finished the file');
      await w.do('close');
    });
  }
});
