import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { eventBody, MemoryChannel } from '../../daemon/channel/index.js';
import { parseAgentConfig } from '../../daemon/agent-config.js';
import { ofType } from '../../daemon/components.js';
import { SpoolDirSource } from '../../daemon/source/index.js';
import { tempDir } from './daemon.js';
import type { Logger } from '../../daemon/log.js';
import { testLogger } from './logger.js';
import { startDrained } from './channel-drain.js';

/**
 * A source on a temp spool dir, and a loop that takes, records and acknowledges its events.
 * With `hold`, the loop takes nothing until `release()`: the source blocks on a full channel.
 */
export async function runSource(t: TestContext, extra = '', prepare?: (spool: string) => void, hold = false, logger: Logger = testLogger) {
  const dir = tempDir();
  const spool = path.join(dir, 'spool');
  mkdirSync(spool);
  prepare?.(spool);
  const config = parseAgentConfig(
    `a1.sources = r1\na1.channels = c1\na1.sources.r1.type = spooldir\na1.sources.r1.spoolDir = spool\n` +
      `a1.sources.r1.channels = c1\na1.sources.r1.pollDelay = 100\na1.sources.r1.basenameHeader = true\n` +
      `a1.channels.c1.type = memory\na1.channels.c1.capacity = 1000\na1.channels.c1.transactionCapacity = 100\n${extra}`,
    'test.conf',
    'a1',
    dir,
  );
  const channel = new MemoryChannel(config.channels[0]!);
  const source = new SpoolDirSource(ofType(config.sources, 'spooldir')[0]!, channel, logger);
  const events: { file: string; body: string }[] = [];
  let held = hold;
  const stop = await startDrained(t, source, () => source.stop(), channel, (b) => {
    for (let i = 0; i < b.count; i++) events.push({ file: b.headers.basename!, body: eventBody(b, i).toString() });
  }, () => held);
  const release = () => {
    held = false;
  };
  return { spool, source, events, stop, release, channel };
}
