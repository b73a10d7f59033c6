// A node --test reporter: per test file, the sum of its top-level tests' durations, slowest
// first, and when its last event came (seconds since the run began). What refreshes
// SLOWEST_FIRST in scripts/run-tests.mjs:
//
//   npm test -- --test-reporter=spec --test-reporter-destination=stdout \
//     --test-reporter=./scripts/test-file-times.mjs --test-reporter-destination=/tmp/times.txt
export default async function* fileTimes(source) {
  const files = new Map();
  const t0 = Date.now();
  for await (const event of source) {
    const file = event.data?.file;
    if (!file) continue;
    const name = file.split('/').pop();
    let f = files.get(name);
    if (!f) files.set(name, (f = { last: 0, sum: 0, failed: 0 }));
    f.last = Date.now() - t0;
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0) {
      f.sum += event.data.details.duration_ms;
      if (event.type === 'test:fail') f.failed++;
    }
  }
  const rows = [...files].sort((a, b) => b[1].sum - a[1].sum);
  const total = rows.reduce((s, [, f]) => s + f.sum, 0);
  yield `sum of the files' test durations: ${(total / 1000).toFixed(1)} s over ${rows.length} files; wall ${((Date.now() - t0) / 1000).toFixed(1)} s\n`;
  for (const [name, f] of rows) yield `${(f.sum / 1000).toFixed(1).padStart(7)} s  ended at ${(f.last / 1000).toFixed(0).padStart(4)} s${f.failed ? '  FAILED' : ''}  ${name}\n`;
}
