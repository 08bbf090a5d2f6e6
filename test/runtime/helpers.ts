/**
 * Shared fixtures for the runtime tests: tiny random checkpoints, a throwaway graph cache, and
 * the decode head computed in plain JavaScript (float64) from full logits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, writeRandomCheckpoint, type Checkpoint, type RandomCheckpointOptions } from '../../src/model/checkpoint.js';
import { ARCHITECTURE_NAMES, ARCHITECTURES, type Architecture } from '../../src/model/architectures.js';

export const ARCHS: readonly Architecture[] = ARCHITECTURE_NAMES;
export const CAUSAL_ARCHS: Architecture[] = ARCHS.filter((a) => ARCHITECTURES[a].causal);
export const BIDIRECTIONAL_ARCHS: Architecture[] = ARCHS.filter((a) => !ARCHITECTURES[a].causal);

/** A temp directory removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `paradec-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const TINY = { vocabSize: 64, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 48 } as const;

/** Write and load a tiny random checkpoint (GQA: 4 heads over 2 KV heads; qwen3 with head_dim 16). */
export function tinyCheckpoint(root: string, architecture: Architecture, extra: Partial<RandomCheckpointOptions> = {}): Checkpoint {
  const dir = join(root, `${architecture}-${extra.dtype ?? 'F32'}-${extra.seed ?? 7}${extra.sharded ? '-sharded' : ''}`);
  const options: RandomCheckpointOptions = { architecture, ...TINY, seed: 7, ...extra };
  if (architecture === 'qwen3' && options.headDim === undefined) options.headDim = 16;
  writeRandomCheckpoint(dir, options);
  return loadCheckpoint(dir);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Logits [rows, vocab] → the decode head in float64: top-k ids/probs and entropy per row. */
export function jsHead(logits: ArrayLike<number>, rows: number, vocab: number, k: number): { ids: number[]; probs: number[]; entropy: number[] } {
  const ids: number[] = [];
  const probs: number[] = [];
  const entropy: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = Array.from({ length: vocab }, (_, v) => logits[r * vocab + v]!);
    const max = Math.max(...row);
    const z = row.reduce((s, l) => s + Math.exp(l - max), 0);
    const lse = max + Math.log(z);
    const p = row.map((l) => Math.exp(l - lse));
    entropy.push(lse - row.reduce((s, l, v) => s + p[v]! * l, 0));
    const order = row.map((_, v) => v).sort((x, y) => row[y]! - row[x]!);
    for (let j = 0; j < k; j++) {
      ids.push(order[j]!);
      probs.push(p[order[j]!]!);
    }
  }
  return { ids, probs, entropy };
}

/** Rows [b][len] of a [b, len, vocab] logits array, restricted to positions [from, to). */
export function sliceLogits(logits: Float32Array, batch: number, length: number, vocab: number, from: number, to: number): Float32Array {
  const out = new Float32Array(batch * (to - from) * vocab);
  for (let b = 0; b < batch; b++) {
    out.set(logits.subarray((b * length + from) * vocab, (b * length + to) * vocab), b * (to - from) * vocab);
  }
  return out;
}

/** Deterministic token rows in [4, vocab - 2) (clear of special ids and the mask token). */
export function tokenRows(batch: number, length: number, vocab: number, seed = 1): number[][] {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 4294967296;
  };
  return Array.from({ length: batch }, () => Array.from({ length }, () => 4 + Math.floor(next() * (vocab - 6))));
}
