import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { eventBody, MemoryChannel } from '../../daemon/channel/index.js';
import { parseAgentConfig } from '../../daemon/agent-config.js';
import { ofType } from '../../daemon/components.js';
import { POSITION_HEADER } from '../../daemon/channel/position-header.js';
import { TaildirSource, type FollowedView } from '../../daemon/source/index.js';
import { tempDir, waitFor } from './daemon.js';
import { capturingLogger } from './logger.js';
import { startDrained } from './channel-drain.js';

export interface TailEvent {
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The batch's `lf.pos` (on its first event only). */
  readonly pos: string | undefined;
}

/**
 * A TAILDIR source (the real one, on real files in a temp dir) feeding a memory channel, and
 * a loop that takes and records its events. `extra` lines are appended to its configuration
 * (`a1.sources.r1.*`); the group `f1` follows `logs/access.log.*` unless `extra` says else.
 */
export async function runTailSource(t: TestContext, extra = '', dir = tempDir()) {
  const logsDir = path.join(dir, 'logs');
  mkdirSync(logsDir, { recursive: true });
  const conf = [
    'a1.sources = r1', 'a1.channels = c1',
    'a1.sources.r1.type = TAILDIR', 'a1.sources.r1.channels = c1',
    'a1.sources.r1.filegroups = f1', 'a1.sources.r1.filegroups.f1 = logs/access.log.*',
    'a1.sources.r1.positionFile = state/taildir_position.json',
    'a1.sources.r1.pollDelay = 100', 'a1.sources.r1.writePosInterval = 200',
    'a1.channels.c1.type = memory', 'a1.channels.c1.capacity = 10000', 'a1.channels.c1.transactionCapacity = 100',
  ].join('\n');
  // Later lines win: `extra` overrides the defaults above.
  const byKey = new Map<string, string>();
  for (const line of `${conf}\n${extra}`.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) byKey.set(line.slice(0, eq).trim(), line);
  }
  const config = parseAgentConfig([...byKey.values()].join('\n') + '\n', 'test.conf', 'a1', dir);
  const channel = new MemoryChannel(config.channels[0]!);
  const { logger, lines: logLines } = capturingLogger();
  const source = new TaildirSource(ofType(config.sources, 'TAILDIR')[0]!, channel, logger);
  /** The source's log lines, parsed. */
  const logs = () => logLines.map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string });
  const events: TailEvent[] = [];
  const stop = await startDrained(t, source, async () => {
    await source.stop();
    await source.close();
  }, channel, (b) => {
    for (let i = 0; i < b.count; i++) {
      events.push({ body: eventBody(b, i).toString(), headers: b.headers, pos: i === 0 ? b.firstHeaders?.[POSITION_HEADER] : undefined });
    }
  });
  const followed = (name: string): FollowedView | undefined => source.followedList().find((f) => path.basename(f.path) === name);
  /** Waits until `n` events were taken (and fails if more come with the next look). */
  const until = (n: number, what = `${n} events`) => waitFor(what, () => (events.length >= n ? events.length : undefined), 10_000);
  return { dir, logs: logsDir, log: logs, source, events, stop, followed, until };
}
