import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MALLOC_SETTINGS, mallocEnvironment } from '../daemon/malloc-settings.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test("the daemon's launchers (npm start, the Docker image) set glibc's allocator settings as daemon/malloc-settings.ts says; a user's own value wins", () => {
  const start = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start as string;
  const dockerEnv = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').split('\n').filter((l) => l.startsWith('ENV ')).join(' ');
  for (const [key, value] of Object.entries(MALLOC_SETTINGS)) {
    assert.ok(start.includes(`${key}=\${${key}:-${value}}`), `package.json's start script sets ${key}=${value} unless set: ${start}`);
    assert.ok(new RegExp(`\\b${key}=${value}\\b`).test(dockerEnv), `the Dockerfile's ENV sets ${key}=${value}: ${dockerEnv}`);
  }
  assert.deepEqual(mallocEnvironment({}), { ...MALLOC_SETTINGS });
  assert.deepEqual(mallocEnvironment({ MALLOC_ARENA_MAX: '4' }), { MALLOC_MMAP_THRESHOLD_: MALLOC_SETTINGS.MALLOC_MMAP_THRESHOLD_ });
});
