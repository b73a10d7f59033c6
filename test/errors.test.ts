import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, HTTP_ERRORS, isErrorCode, isHttpErrorCode } from '../daemon/errors.js';

/** The TypeScript sources (dist/test/ -> the repository's daemon/). */
const DAEMON = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../daemon');

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
