import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildHttpServer } from '../daemon/http/server.js';
import { tempDir } from './helpers/daemon.js';
import { testLogger } from './helpers/logger.js';
import { logflow } from './helpers/run-cli.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DAEMON = path.join(ROOT, 'daemon');
const doc = (page: string) => readFileSync(path.join(ROOT, 'docs', page), 'utf8');

/** The text of `## TITLE...` in a page, up to the next `## `. */
function section(page: string, title: string): string {
  const text = doc(page);
  const start = text.indexOf(`\n## ${title}`);
  assert.ok(start >= 0, `docs/${page} has a section "${title}"`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/**
 * Where the keys each config module reads are documented: a module reads them, its section
 * of the manual names each of them. A module reading keys that is missing here fails the
 * test, so a new component type gets a section.
 */
const SECTIONS: Record<string, [page: string, title: string][]> = {
  'source/spooldir-config.ts': [['configuration.md', 'Spooldir source']],
  'source/source-config.ts': [['configuration.md', 'Spooldir source']],
  'source/avro-source-config.ts': [['configuration.md', 'Avro source']],
  'source/taildir/taildir-config.ts': [['configuration.md', 'TAILDIR source']],
  'channel/memory-channel-config.ts': [['configuration.md', 'Memory channel']],
  'channel/file-channel-config.ts': [['configuration.md', 'File channel']],
  'sink/avro-sink-config.ts': [['configuration.md', 'Avro sink']],
  'job/url-window-config.ts': [['configuration.md', 'Streaming job']],
  'job/dimensions-config.ts': [['configuration.md', 'Streaming job']],
  'http/config.ts': [['configuration.md', 'HTTP']],
  // Shared by the avro source, the avro sink and the job's receiver: each row where it applies.
  'avro/transport-config.ts': [['configuration.md', 'Avro source'], ['configuration.md', 'Avro sink'], ['configuration.md', 'Streaming job']],
  'sink/jetstream/config.ts': [['scaling-out.md', 'On a NATS JetStream cluster']],
  'cluster/partial-counter-config.ts': [['scaling-out.md', 'On a NATS JetStream cluster']],
  'cluster/merge-worker-config.ts': [['scaling-out.md', 'On a NATS JetStream cluster']],
  'cluster/results-input-config.ts': [['scaling-out.md', 'On a NATS JetStream cluster']],
  // The NATS connection and the stream limits, read for every cluster component under its own key.
  'cluster/jetstream-config.ts': [['scaling-out.md', 'On a NATS JetStream cluster']],
};
/** Modules that read keys but name none of their own (the agent's lists, `type`, shared readers given the key). */
const NO_KEYS_OF_THEIR_OWN = ['agent-config.ts', 'components.ts', 'logformat/log-format-config.ts', 'store/database-config.ts'];

/** The keys a module reads: `p + '.key'` (or `ip`, `prefix`) and `${p}.key...` where a PropertyReader is used. */
function keysRead(text: string): string[] {
  const keys = new Set<string>();
  for (const m of text.matchAll(/\b(?:p|ip|prefix)\s*\+\s*'\.([A-Za-z][\w.-]*)'/g)) keys.add(m[1]!);
  for (const m of text.matchAll(/`\$\{p\}\.([A-Za-z][\w-]*)/g)) keys.add(m[1]!);
  return [...keys];
}

describe('the manual (docs/) says what the code does', () => {
  test('every configuration key a component reads is named in a row of its section\'s table in the manual', () => {
    const modules = readdirSync(DAEMON, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => ({ file: f.split(path.sep).join('/'), text: readFileSync(path.join(DAEMON, f), 'utf8') }))
      .filter(({ text }) => /\bPropertyReader\b/.test(text) && /\br\.(?:string|int|seconds|bool|oneOf|regex|list|raw|has|keysUnder)\(/.test(text));
    assert.ok(modules.length >= 12, `found ${modules.length} config modules`);
    const unknown = modules.filter(({ file }) => !(file in SECTIONS) && !NO_KEYS_OF_THEIR_OWN.includes(file)).map((m) => m.file);
    assert.deepEqual(unknown, [], 'config modules with no section of the manual in this test');
    const missing: string[] = [];
    let checked = 0;
    for (const { file, text } of modules) {
      if (NO_KEYS_OF_THEIR_OWN.includes(file)) continue;
      for (const key of keysRead(text)) {
        const places = SECTIONS[file];
        assert.ok(places, `${file} reads ${key} but has no section`);
        // In a row of the section's table, in backticks, alone or in a longer key (`interceptors.NAME.type`, `encryption.*`).
        const named = new RegExp('^\\|.*`[^`\\n]*(?<![\\w-])' + key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '(?![\\w-])[^`\\n]*`', 'm');
        const found = places.some(([page, title]) => named.test(section(page, title)));
        if (!found) missing.push(`${file}: ${key} (in ${places.map(([p, t]) => `${p} "${t}"`).join(' or ')})`);
        checked++;
      }
    }
    assert.ok(checked >= 100, `checked ${checked} keys`);
    assert.deepEqual(missing, []);
  });

  test('the copy of `logflow --help` in docs/cli.md is what the command prints', () => {
    const help = execFileSync(process.execPath, [path.join(ROOT, 'dist/daemon/cli.js'), '--help'], { encoding: 'utf8' });
    const text = doc('cli.md');
    const start = text.indexOf('`npx logflow --help`:\n\n```\n');
    assert.ok(start >= 0, 'docs/cli.md copies the help');
    const body = text.slice(text.indexOf('```\n', start) + 4);
    assert.equal(body.slice(0, body.indexOf('```\n')), help);
  });

  test('every exit status docs/cli.md documents is what its example exits with', async () => {
    const dir = tempDir();
    const line = (i: number) => `10.0.0.${i % 9} - - [10/Oct/2000:13:${String(i % 60).padStart(2, '0')}:36 -0700] "GET /p/${i % 7} HTTP/1.1" 200 ${i}`;
    writeFileSync(path.join(dir, 'access_log.txt'), Array.from({ length: 200 }, (_, i) => line(i)).join('\n') + '\n');
    writeFileSync(path.join(dir, 'notes.txt'), 'a note, not a log line\n'.repeat(20));
    const rows = [...section('cli.md', 'Exit codes').matchAll(/^\| `(\d+)` \|[^|]*\| `logflow ([^`]+)` \|$/gm)];
    assert.deepEqual(rows.map((r) => Number(r[1])), [0, 1, 2, 64], 'a row with an example for every exit status');
    for (const [, exit, args] of rows) {
      const run = await logflow(args!.split(' '), dir);
      assert.equal(run.code, Number(exit), `logflow ${args}: ${run.stderr}`);
    }
  });

  test('docs/http-api.md describes every route once', async () => {
    const app = await buildHttpServer({ results: undefined, job: undefined, stats: () => ({}) as never, files: () => [], followed: () => [], metrics: () => ({}) as never, logger: testLogger });
    await app.ready();
    const routes = Object.keys(app.swagger().paths!).map((p) => p.replace(/\{(\w+)\}/g, ':$1'));
    await app.close();
    const described = [...doc('http-api.md').matchAll(/^- `GET (\/[^`?\[ ]*)/gm)].map((m) => m[1]!);
    assert.deepEqual([...new Set(described)].sort(), [...routes].sort(), 'the routes described are the routes served');
    assert.deepEqual(described.filter((r, i) => described.indexOf(r) !== i), [], 'no route is described twice');
  });

  test('README.md is a first screen (at most 300 lines) and links every page of the manual', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    assert.ok(readme.split('\n').length <= 300, `README.md has ${readme.split('\n').length} lines`);
    const pages = readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md'));
    assert.deepEqual(pages.filter((p) => !readme.includes(`(docs/${p})`)), []);
  });
});
