import type { TestContext } from 'node:test';
import type { EventBatch, MemoryChannel } from '../../daemon/channel/index.js';

/**
 * A source under test, started, with its downstream: a loop that takes the channel's batches,
 * hands each to `record`, commits and acknowledges them. While `held()` is true it takes
 * nothing, so the source meets a full channel. The returned `stop` (stops the source with
 * `stopSource`, then the loop) runs once, when the test calls it or at its end (`t.after`).
 */
export async function startDrained(
  t: Pick<TestContext, 'after'>,
  source: { start(): Promise<void> | void },
  stopSource: () => Promise<void>,
  channel: MemoryChannel,
  record: (batch: EventBatch) => void,
  held: () => boolean = () => false,
): Promise<() => Promise<void>> {
  let running = true;
  const loop = (async () => {
    while (running) {
      const batches = held() ? [] : channel.take(100);
      if (batches.length === 0) {
        // Nothing to take: look again soon (a poll, not a wait for a result).
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      for (const b of batches) record(b);
      channel.commit(batches);
      for (const b of batches) b.onDelivered?.();
    }
  })();
  await source.start();
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= (async () => {
    await stopSource();
    running = false;
    await loop;
  })());
  t.after(stop);
  return stop;
}
