import type { Channel } from '../channel/index.js';
import type { Logger } from '../log.js';
import type { SourcePositions } from './source-positions.js';

/**
 * Keeps the positions of a source's files durably (the job in this process, or a file
 * channel): the source resumes a file after what was kept, and finishes it once all of it
 * is kept. Declared by the component that can (components.ts), found by the agent.
 */
export interface PositionKeeper {
  /** Before start-up: keeps the positions of the files of `sourceId`; `onCommit` runs whenever more are kept. */
  keepPositions(sourceId: string, onCommit: () => void): SourcePositions;
}

/** What a source's `build(config, ctx)` gets from the agent (components.ts BuildContext). */
export interface SourceContext {
  readonly logger: Logger;
  /** The configuration file, and the source's key in it (`a1.sources.r1`). */
  readonly file: string;
  readonly key: string;
  channel(name: string): Channel;
  positionKeeper(channel: string): PositionKeeper | undefined;
}
