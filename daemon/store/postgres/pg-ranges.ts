import type { RangePiece } from '../history.js';

/**
 * The range split is SQLite's (history.ts: `decompose`, `unusableOf`, `levelForStep`), over
 * the same five levels of rollups (LEVEL_MS); what is PostgreSQL's own is how a query takes
 * the pieces: as column arrays it joins against (`unnest($levels, $froms, $tos)`).
 */
export function pieceArrays(pieces: readonly RangePiece[]): [number[], number[], number[]] {
  return [pieces.map((p) => p.level), pieces.map((p) => p.from), pieces.map((p) => p.to)];
}
