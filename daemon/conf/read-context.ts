/**
 * What a component's `read(reader, prefix, context)` gets besides its keys: its name, how
 * to resolve a path (against the directory logflow was started in), and a check that a
 * channel it names is listed.
 */
export interface ReadContext {
  readonly name: string;
  resolve(p: string): string;
  knownChannel(key: string, value: string): string;
}
