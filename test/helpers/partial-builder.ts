import { PartialBuilder } from '../../daemon/cluster/partial-counts.js';
import { compileLineFormat } from '../../daemon/logformat/log-format.js';

/**
 * A counter's builder over the combined format (1 s batches), counting by `dims` (a counter's
 * default: url status), with their visitors as a counter counts them (every dimension but the client's).
 */
export function builderOf(eventTime: boolean, dims: readonly string[] = ['url', 'status']): PartialBuilder {
  const f = compileLineFormat('auto');
  return new PartialBuilder(f.parse, f.fieldNames.length, dims.map((name) => ({ name, field: f.fieldNames.indexOf(name), visitors: name !== 'client' })), 1000, eventTime);
}
