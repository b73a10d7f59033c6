import { VisitorSketch } from './visitor-sketch.js';

/**
 * The union of stored visitor sketches (`VisitorSketch.encode`'s bytes: the history's rows of
 * a key over buckets and status codes). A part with no sketch (null: a row whose lines came
 * without visits, such as rows written before visitors were kept) makes the whole unknown:
 * a union of what is known would be short, and visitors are never reported short.
 *
 * A single part is passed through as it is (most keys of a coarser bucket come from one finer
 * row); the sketch is made from the second.
 */
export class VisitorUnion {
  #first: Buffer | undefined;
  #sketch: VisitorSketch | undefined;
  #unknown = false;

  /** Adds a part: a sketch's bytes, or null when that part's visitors are not known. */
  add(bytes: Buffer | null): void {
    if (this.#unknown) return;
    if (bytes === null) {
      this.#unknown = true;
      this.#first = this.#sketch = undefined;
      return;
    }
    if (this.#first === undefined && this.#sketch === undefined) {
      this.#first = bytes;
      return;
    }
    if (!this.#sketch) {
      this.#sketch = new VisitorSketch();
      this.#sketch.mergeEncoded(this.#first!);
      this.#first = undefined;
    }
    this.#sketch.mergeEncoded(bytes);
  }

  /** Adds one visitor (a client's hash) that came without a stored sketch (a batch row's visit). */
  addHash(hi: number, lo: number): void {
    if (this.#unknown) return;
    if (!this.#sketch) {
      this.#sketch = new VisitorSketch();
      if (this.#first) this.#sketch.mergeEncoded(this.#first);
      this.#first = undefined;
    }
    this.#sketch.add(hi, lo);
  }

  /** Whether some part was unknown. */
  get unknown(): boolean {
    return this.#unknown;
  }

  /** The union's bytes; null when some part was unknown or none was added. */
  bytes(): Buffer | null {
    if (this.#unknown) return null;
    return this.#sketch ? this.#sketch.encode() : (this.#first ?? null);
  }

  /** The union as a sketch (empty when nothing was added); undefined when some part was unknown. */
  sketch(): VisitorSketch | undefined {
    if (this.#unknown) return undefined;
    if (this.#sketch) return this.#sketch;
    return this.#first ? VisitorSketch.decode(this.#first) : new VisitorSketch();
  }
}
