/**
 * Row operations on KV caches for batched verification. A cache stores each layer as
 * [batch, kvHeads, length, headDim] row-major (see runtime/types.ts), so the rows of a batch are
 * contiguous slabs of equal size, whatever the model's head layout: these helpers need nothing
 * but that.
 */
import type { KvCache } from '../../runtime/types.js';
import { InputError } from '../../errors.js';

function gather(a: Float32Array, batch: number, rows: readonly number[]): Float32Array {
  const per = a.length / batch;
  const out = new Float32Array(per * rows.length);
  rows.forEach((r, i) => out.set(a.subarray(r * per, (r + 1) * per), i * per));
  return out;
}

/** A cache whose row i is row `rows[i]` of `cache` (rows may repeat: beams, trials). */
export function gatherRows(cache: KvCache, rows: readonly number[]): KvCache {
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r >= cache.batch) throw new InputError(`gatherRows: row ${r} is not within the cache's 0..${cache.batch - 1}`);
  }
  if (rows.length === 0) throw new InputError('gatherRows: no rows selected');
  return {
    batch: rows.length,
    length: cache.length,
    keys: cache.keys.map((k) => gather(k, cache.batch, rows)),
    values: cache.values.map((v) => gather(v, cache.batch, rows)),
  };
}

/** `n` copies of a one-row cache (the same cache when n is 1). */
export function replicateCache(cache: KvCache, n: number): KvCache {
  if (cache.batch !== 1) throw new InputError(`replicateCache: expects a one-row cache, got batch ${cache.batch}`);
  if (n === 1) return cache;
  return gatherRows(cache, Array.from({ length: n }, () => 0));
}

/** Row `row` of a batched cache, as a one-row cache. */
export function selectRow(cache: KvCache, row: number): KvCache {
  if (cache.batch === 1 && row === 0) return cache;
  return gatherRows(cache, [row]);
}
