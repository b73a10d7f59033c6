/**
 * glibc's allocator settings the daemon is started with (by `npm start`, the Docker image,
 * and the tests' and benchmarks' launcher, scripts/lib/daemon-process.ts). They must be in
 * the environment before the process starts: glibc reads them once, and Node cannot set
 * them (no `mallopt`, no `execve` on Node 20). docs/operations.md, "Memory", says why;
 * test/malloc-settings.test.ts keeps package.json and the Dockerfile saying the same.
 *
 * - `MALLOC_MMAP_THRESHOLD_`: every allocation over 256 KB (the window's typed arrays, the
 *   slots' bytes, the interner's arena) is its own mapping, given back to the system when
 *   freed. By default glibc raises the threshold to 32 MB as soon as one large array is
 *   freed, after which the window's growing arrays are carved out of the malloc arenas,
 *   and the holes the old ones leave stay resident (at a million URLs: window alone, in
 *   process, peak 571 -> 498 MB, issue 28 session 4).
 * - `MALLOC_ARENA_MAX`: one arena per two threads at most, not up to eight per core: each
 *   of the daemon's threads (main, job, HTTP, query threads, V8's and libuv's helpers) that
 *   allocates otherwise gets its own 64 MB heap, most of it resident once used.
 */
export const MALLOC_SETTINGS = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '262144' } as const;

/** The settings, each unless the environment sets it already (a user's own value wins). */
export function mallocEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(MALLOC_SETTINGS).filter(([k]) => env[k] === undefined));
}
