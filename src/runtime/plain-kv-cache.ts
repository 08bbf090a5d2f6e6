/**
 * KV caches held in plain Float32Arrays on the calling thread: what the in-process drafter
 * always uses, and what a worker-backed causal model falls back to for a cache its worker does
 * not hold. Layout per layer: [batch, kvHeads, length, headDim].
 */
import type { KvCache } from './types.js';

/** A cache of no positions (every layer's keys and values empty). */
export function emptyPlainCache(batch: number, numLayers: number): KvCache {
  const none = () => Array.from({ length: numLayers }, () => new Float32Array(0));
  return { batch, length: 0, keys: none(), values: none() };
}

/** The first `length` positions of a plain cache, copied (the caller checks `length`). */
export function truncatePlainCache(cache: KvCache, length: number, numKvHeads: number, headDim: number): KvCache {
  const rows = cache.batch * numKvHeads;
  const oldRow = cache.length * headDim;
  const newRow = length * headDim;
  const cut = (a: Float32Array): Float32Array => {
    const out = new Float32Array(rows * newRow);
    for (let r = 0; r < rows; r++) out.set(a.subarray(r * oldRow, r * oldRow + newRow), r * newRow);
    return out;
  };
  return { batch: cache.batch, length, keys: cache.keys.map(cut), values: cache.values.map(cut) };
}
