import { getHeapStatistics } from 'node:v8';

/**
 * `process.memoryUsage()` opens /proc/self/stat for the RSS. With every descriptor of the
 * process taken (a flood of connections: EMFILE) it throws, and a stats tick of the job
 * thread that called it crashed the daemon. The last good sample stands in: a figure a
 * little old, never a crash. One sample per thread (module state is per thread).
 */
let last: NodeJS.MemoryUsage | undefined;

export function memoryUsage(): NodeJS.MemoryUsage {
  try {
    last = process.memoryUsage();
  } catch {
    // Before any good sample: the heap from V8 (no file needed), the rest unknown.
    if (!last) {
      const heap = getHeapStatistics();
      last = { rss: 0, heapTotal: heap.total_heap_size, heapUsed: heap.used_heap_size, external: 0, arrayBuffers: 0 };
    }
  }
  return last;
}
