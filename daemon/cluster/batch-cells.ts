import type { BatchSet, WindowSet } from '../counts/window-set.js';
import type { DimensionSpec } from '../counts/dimension-window.js';
import { allGroups, CellsCursor, groupByKey, type SectionPart } from './cells-wire.js';
import { ByteReader, WireError } from './wire-bytes.js';

/**
 * Between a window's open batch (the job's `BatchSet`, one `DimensionBatch` per dimension)
 * and the sections a row carries: what a merge shard publishes of a closed batch, and what a
 * query node (or a shard taking over) adds back from it.
 */

/**
 * A merge shard window's dimensions: every key kept (`maxKeys`, the query node's, is applied
 * there); no visitors counted in it (its batches carry the visits on: see ShardMerge).
 */
export function clusterSpecs(dims: readonly string[]): DimensionSpec[] {
  return dims.map((name) => Object.freeze({ name, field: -1, visitors: false, maxKeys: 0 }));
}

/** The batch's cells as sections, dimension by dimension (the window's order and names). */
export function sectionsOf(window: WindowSet, batch: BatchSet): SectionPart[] {
  const parts: SectionPart[] = [];
  window.dims.forEach((d, i) => {
    const b = batch.dims[i]!;
    if (b.size > 0) parts.push(allGroups(groupByKey(i, d.keys, b)));
  });
  return parts;
}

/** Cells (distinct key and status) of a batch, over its dimensions. */
export function cellsOf(batch: BatchSet): number {
  let n = 0;
  for (const d of batch.dims) n += d.size;
  return n;
}

/**
 * Adds a row's sections (dimensions named `dims`) to `batch`, an open batch of `window`, with
 * their cells' visits (from the row's client table) where the batch keeps them; a dimension the window does not count is
 * passed over. Every cell must be new to the batch
 * (a batch's rows from different shards, or the parts of one row). Returns the cells read.
 */
export function addSections(window: WindowSet, batch: BatchSet, dims: readonly string[], sections: Buffer, clients: Buffer | undefined): number {
  const to = dims.map((name) => window.dims.findIndex((d) => d.name === name));
  const cursor = new CellsCursor(new ByteReader(sections), dims.length, clients);
  const data = cursor.reader.data;
  let cells = 0;
  cursor.begin();
  while (cursor.nextSection()) {
    const di = to[cursor.dim]!;
    if (di < 0) continue;
    const keys = window.dims[di]!.keys;
    const target = batch.dims[di]!;
    while (cursor.nextKey()) {
      const id = keys.id(data, cursor.keyStart, cursor.keyEnd);
      // The shards' cells are disjoint, and so are a row's: each is new to the batch.
      const visits = target.visitors;
      while (cursor.nextCell()) {
        const cell = target.append(id, cursor.code, cursor.count, cursor.bytes);
        if (visits) while (cursor.nextVisit()) target.visit(cell, cursor.hi, cursor.lo);
        cells++;
      }
    }
  }
  if (!cursor.reader.done) throw new WireError(`a row with ${sections.length - cursor.reader.position} bytes after its sections`);
  return cells;
}
