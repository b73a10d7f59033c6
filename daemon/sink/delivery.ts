import type { Channel, EventBatch } from '../channel/index.js';

/**
 * Commits batches the next hop acknowledged and tells their sources (a file may finish,
 * its buffer be reused); returns the events committed. Every sink ends a delivery so.
 */
export function commitDelivered(channel: Channel, batches: readonly EventBatch[]): number {
  channel.commit(batches);
  let events = 0;
  for (const b of batches) {
    events += b.count;
    b.onDelivered?.();
    b.release?.();
  }
  return events;
}

/** At stop: gives the sink until `deadlineMs` to deliver what the channel holds. */
export async function waitForDrain(channel: Channel, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (channel.size > 0 && Date.now() < deadline) await sleep(20);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
