import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI_ERRORS, ERROR_CODES, HTTP_ERRORS, isErrorCode, isHttpErrorCode } from '../daemon/errors.js';

/** The TypeScript sources (dist/test/ -> the repository's daemon/), and the manual. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DAEMON = path.join(ROOT, 'daemon');

function sources(dir: string): { file: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .filter((file) => file !== path.join(DAEMON, 'errors.ts'))
    .map((file) => ({ file: path.relative(DAEMON, file), text: readFileSync(file, 'utf8') }));
}

const files = sources(DAEMON);
const used = files.flatMap(({ file, text }) => [...text.matchAll(/'(LF_[A-Z0-9_]+)'/g)].map((m) => ({ file, code: m[1]! })));

test('every LF_ code daemon/ raises or sends is declared in errors.ts', () => {
  assert.ok(used.length > 20, `the scan found ${used.length} codes in ${DAEMON}`);
  const undeclared = used.filter((u) => !isErrorCode(u.code)).map((u) => `${u.file}: ${u.code}`);
  assert.deepEqual(undeclared, []);
});

test('every declared code is used somewhere in daemon/', () => {
  const seen = new Set(used.map((u) => u.code));
  assert.deepEqual(ERROR_CODES.filter((c) => !seen.has(c)), []);
});

test('an HTTP answer with a code has the status declared for it', () => {
  // Answers go through http/errors.ts sendError, which takes the status from HTTP_ERRORS:
  // every code it is called with must be an HTTP one, and no route may set a status itself.
  const sent = files.flatMap(({ file, text }) => [...text.matchAll(/sendError\([^,]+,\s*'(LF_[A-Z0-9_]+)'/g)].map((m) => ({ file, code: m[1]! })));
  assert.ok(sent.length >= 4, `found ${sent.length} answers`);
  assert.deepEqual(sent.filter((a) => !isHttpErrorCode(a.code)).map((a) => `${a.file}: ${a.code}`), []);
  const byHand = files.flatMap(({ file, text }) =>
    [...text.matchAll(/reply\.code\((\d+)\)[^;]*?code: '(LF_[A-Z0-9_]+)'/g)].map((m) => ({ file, status: Number(m[1]), code: m[2]! })),
  );
  const wrong = byHand.filter((a) => !isHttpErrorCode(a.code) || HTTP_ERRORS[a.code].status !== a.status);
  assert.deepEqual(wrong.map((a) => `${a.file}: ${a.status} ${a.code}`), []);
});

test('daemon/ throws no error without a declared code: no bare Error, RangeError or TypeError, no class of its own outside errors.ts\'s LogflowError', () => {
  const bare = files.flatMap(({ file, text }) =>
    [...text.matchAll(/new (?:Error|RangeError|TypeError|SyntaxError)\(|extends (?:Error|RangeError|TypeError)\b/g)].map((m) => `${file}: ${m[0]}`),
  );
  assert.deepEqual(bare, []);
});

/** The rows `| \`LF_X\` | ... |` of a section of docs/errors.md, as [code, cells after it]. */
function documented(section: string): Map<string, string[]> {
  const text = readFileSync(path.join(ROOT, 'docs/errors.md'), 'utf8');
  const start = text.indexOf(`## ${section}`);
  assert.ok(start >= 0, `docs/errors.md has a section "${section}"`);
  const end = text.indexOf('\n## ', start + 1);
  const rows = [...text.slice(start, end < 0 ? undefined : end).matchAll(/^\| `(LF_[A-Z0-9_]+)` \|(.*)\|$/gm)];
  return new Map(rows.map((m) => [m[1]!, m[2]!.split('|').map((c) => c.trim())]));
}

test('docs/errors.md lists every declared code once, with the HTTP status and exit status errors.ts gives it (as Fastify checks its Errors.md)', () => {
  const daemon = documented('The daemon');
  const http = documented('The HTTP API');
  const cli = documented('The command line');
  const listed = [...daemon.keys(), ...http.keys(), ...cli.keys()];
  assert.deepEqual([...listed].sort(), [...ERROR_CODES].sort(), 'the codes listed are the codes declared');
  assert.equal(new Set(listed).size, listed.length, 'each code is listed once');
  for (const [code, [status]] of http) {
    assert.ok(isHttpErrorCode(code), `${code} is listed with the HTTP API's codes`);
    assert.equal(Number(status), HTTP_ERRORS[code].status, `${code}'s status`);
  }
  for (const [code, [exit]] of cli) {
    assert.ok(Object.hasOwn(CLI_ERRORS, code), `${code} is listed with the command line's codes`);
    assert.equal(Number(exit), CLI_ERRORS[code as keyof typeof CLI_ERRORS].exit, `${code}'s exit status`);
  }
  for (const [code, [what]] of daemon) assert.ok(what && what.length > 10, `${code} says what happened`);
});
