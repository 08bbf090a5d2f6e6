/**
 * How much memory a model needs to load and run at each dtype, what this machine has, and which
 * dtype to load by default — so that a model that cannot fit fails before loading, in one line
 * naming what would fit, instead of being killed by the kernel mid-load (issue 19: LLaDA-8B from
 * BF16 at fp32 went to 23.8 GB and was killed with no message).
 *
 * The estimate is arithmetic on the config (no file is read), calibrated on measurements
 * (docs/scale.md, "Data types"): bytes per parameter as ONNX Runtime 1.30's CPU provider holds
 * each kind of weight, the decode head's and layers' activations at the default size, and the
 * process's own footprint. It errs high: measured peaks of the built-in models and of 150–170M
 * random checkpoints were 54–87% of it (scripts/dtype-memory.ts).
 */
import { freemem, totalmem } from 'node:os';
import { InputError } from '../errors.js';
import type { ModelConfig } from '../model/types.js';
import { DTYPES, type Dtype } from './dtype.js';

/** What the machine has, in bytes. */
export interface MemoryInfo {
  total: number;
  /** what a new allocation can still get (Linux: MemAvailable, or a cgroup's limit minus its use) */
  available: number;
}

/** Where MemoryInfo comes from; tests pass a fixed one. */
export type MemorySource = () => MemoryInfo;

export const systemMemory: MemorySource = () => {
  const limit = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  const total = limit > 0 && limit < totalmem() ? limit : totalmem();
  // process.availableMemory (Node >= 20.13) accounts for a cgroup limit; os.freemem is MemAvailable
  const available = typeof process.availableMemory === 'function' ? process.availableMemory() : freemem();
  return { total, available: Math.min(available, total) };
};

/**
 * Bytes per parameter in ORT's memory after session creation, measured (anonymous memory of a
 * session over 8 × [4096, 4096] weights, block 32): MatMulNBits keeps its prepacked form (codes,
 * a scale and a sum per block), GatherBlockQuantized its codes and scales; every float weight is
 * float32, whatever the checkpoint stored.
 */
const BYTES = {
  float: 4.05,
  matMulNBits: { int8: 1.34, int4: 0.84 },
  gatherBlockQuantized: { int8: 1.125, int4: 0.625 },
} as const;

/**
 * Loading an F16/BF16 checkpoint at fp32: ORT reads the 16-bit initializers and folds their Casts
 * into float32 ones, and the peak is above the final size (measured on a 168M-parameter BF16
 * checkpoint: 6.6–7.1 bytes per parameter above the process's own at the peak, 4.8 after).
 */
const FOLD_EXTRA_BYTES = 3.2;

/** Float32 copies of the largest quantized matrix the first (compiling) load is allowed. */
const COMPILE_COPIES = 1.5;

/** Node, ONNX Runtime, the session and its first forward's arena (measured 160–170 MB with the built-in models). */
const PROCESS_BYTES = 256e6;

/** The default size the estimate is made at: one row of this many tokens (prompt and canvas / new tokens). */
export const ESTIMATE_TOKENS = 256;

/** KV caches a causal model keeps at once by default (compile-model.ts `residentCaches`). */
const RESIDENT_CACHES = 4;

export interface MemoryEstimate {
  dtype: Dtype;
  /** the weights as ORT holds them */
  weights: number;
  /** one forward at the default size: the decode head's full-vocabulary tensors, a layer's, the KV */
  activations: number;
  /**
   * what exists only while loading: the float32 copies of Cast folding (16-bit checkpoint at
   * fp32; gone before the first forward), or the compiler's float32 copies of what it quantizes
   * (first load only; garbage the first forwards may still find uncollected)
   */
  loading: number;
  /** the process and ORT themselves */
  process: number;
  /** process + weights + activations, with loading beside the activations (fp32) or on top (quantizing) */
  total: number;
}

export interface EstimateOptions {
  /** bytes per parameter of the checkpoint's files (2 for F16/BF16, 4 for F32; default 4) */
  storedBytesPerParam?: number;
  /** tokens in the row (default ESTIMATE_TOKENS, capped at the model's positions) */
  tokens?: number;
  /** the quantized graph is in the graph cache already: no compiling, so no compile-time copies (default false) */
  compiled?: boolean;
}

/** The memory `config`'s model needs to load and run at `dtype`. */
export function estimateMemory(c: ModelConfig, dtype: Dtype, options: EstimateOptions = {}): MemoryEstimate {
  const H = c.hiddenSize;
  const V = c.vocabSize;
  const I = c.intermediateSize;
  const qOut = c.numHeads * c.headDim;
  const kvOut = c.numKvHeads * c.headDim;
  const perLayerLinear = H * (qOut + 2 * kvOut) + qOut * H + 3 * H * I;
  const linears = c.numLayers * perLayerLinear;
  const embedding = V * H;
  const small = c.numLayers * (2 * H + (c.attentionBias ? qOut + 2 * kvOut : 0) + (c.qkNorm ? 2 * c.headDim : 0)) + H;
  const params = linears + embedding * (c.tieWordEmbeddings ? 1 : 2) + small;

  let weights: number;
  let loading: number;
  if (dtype === 'fp32') {
    // a tied head is the embedding's float matrix, plus the copy ORT prepacks for the head's matmul
    weights = BYTES.float * (params + (c.tieWordEmbeddings ? embedding : 0));
    loading = (options.storedBytesPerParam ?? 4) < 4 ? FOLD_EXTRA_BYTES * params : 0;
  } else {
    // the head is a MatMulNBits of its own whether tied or not (tied, it shares the codes on disk only)
    weights = BYTES.matMulNBits[dtype] * (linears + embedding) + BYTES.gatherBlockQuantized[dtype] * embedding + BYTES.float * small;
    // compiling (first load): float32 copies of the matrices quantized, the largest one at least,
    // collected when V8 likes (measured: cold peaks 0.4–1.5 float32 embeddings above warm ones)
    loading = options.compiled ? 0 : COMPILE_COPIES * 4 * Math.max(embedding, H * (qOut + 2 * kvOut), 2 * I * H);
  }

  const S = Math.max(1, Math.min(options.tokens ?? ESTIMATE_TOKENS, c.maxPositions));
  const f = 4; // float32 activations
  // logits, log-softmax, probabilities and p·log p over the vocabulary, twice over for the arena's slack
  const head = 8 * S * V * f;
  const layer = 2 * S * (4 * H + 2 * I) * f + 2 * c.numHeads * S * S * f;
  const kvPerToken = 2 * c.numLayers * kvOut * f;
  const kv = (c.causal ? RESIDENT_CACHES : 1) * kvPerToken * S;
  const activations = head + layer + kv;
  const total = PROCESS_BYTES + weights + (dtype === 'fp32' ? Math.max(activations, loading) : activations + loading);
  return { dtype, weights, activations, loading, process: PROCESS_BYTES, total };
}

/** Every dtype's estimate, most precise first. */
export function estimateAll(c: ModelConfig, options: EstimateOptions = {}): MemoryEstimate[] {
  return DTYPES.map((d) => estimateMemory(c, d, options));
}

/**
 * The default dtype picks fp32 while its estimate stays under this share of the available memory,
 * else the most precise dtype that does: the estimate errs high, and the rest of the machine keeps
 * some room.
 */
export const COMFORT = 0.9;

/** "~32 GB", "~6.1 GB", "~270 MB" */
export function formatBytes(bytes: number): string {
  if (bytes >= 10e9) return `~${Math.round(bytes / 1e9)} GB`;
  if (bytes >= 1e9) return `~${(bytes / 1e9).toFixed(1)} GB`;
  return `~${Math.round(bytes / 1e6)} MB`;
}

function freeText(m: MemoryInfo): string {
  return `this machine has ${formatBytes(m.available).slice(1)} free`;
}

export interface DtypeChoice {
  dtype: Dtype;
  estimate: MemoryEstimate;
  /** one line saying why, when the choice is not fp32 (for stderr); null when fp32 was picked */
  notice: string | null;
}

/**
 * The dtype a model loads at when none is asked for: fp32 when it fits comfortably, else the most
 * precise one that does. When none fits: an InputError naming what the smallest would need.
 */
export function chooseDtype(name: string, estimates: readonly MemoryEstimate[], memory: MemoryInfo): DtypeChoice {
  const fp32 = estimates.find((e) => e.dtype === 'fp32')!;
  const fit = estimates.find((e) => e.total <= COMFORT * memory.available);
  if (!fit) {
    const smallest = estimates[estimates.length - 1]!;
    throw new InputError(`${name} needs ${formatBytes(smallest.total)} even at ${smallest.dtype} and ${freeText(memory)}`);
  }
  if (fit.dtype === 'fp32') return { dtype: 'fp32', estimate: fit, notice: null };
  return {
    dtype: fit.dtype,
    estimate: fit,
    notice: `${name}: loading at ${fit.dtype} (${formatBytes(fit.total)}): fp32 would need ${formatBytes(fp32.total)} and ${freeText(memory)} (--dtype to choose)`,
  };
}

/**
 * Check that `dtype`, asked for explicitly, fits; an InputError in one line naming the most precise
 * dtype that would, otherwise.
 */
export function checkFits(name: string, dtype: Dtype, estimates: readonly MemoryEstimate[], memory: MemoryInfo): MemoryEstimate {
  const mine = estimates.find((e) => e.dtype === dtype)!;
  if (mine.total <= memory.available) return mine;
  const smaller = estimates.filter((e) => DTYPES.indexOf(e.dtype) > DTYPES.indexOf(dtype));
  const other = smaller.find((e) => e.total <= COMFORT * memory.available);
  const smallest = estimates[estimates.length - 1]!;
  const hint = other
    ? `; --dtype ${other.dtype} needs ${formatBytes(other.total)}`
    : smallest.dtype !== dtype ? `; even ${smallest.dtype} needs ${formatBytes(smallest.total)}` : '';
  throw new InputError(`${name} needs ${formatBytes(mine.total)} at ${dtype} and ${freeText(memory)}${hint}`);
}

/** Bytes per parameter of a checkpoint's tensors as stored (4: F32, 2: F16/BF16; a mix: the average). */
export function storedBytesPerParam(tensors: Iterable<{ shape: readonly number[]; byteLength: number }>): number {
  let bytes = 0;
  let params = 0;
  for (const t of tensors) {
    bytes += t.byteLength;
    params += t.shape.reduce((a, b) => a * b, 1);
  }
  return params > 0 ? bytes / params : 4;
}
