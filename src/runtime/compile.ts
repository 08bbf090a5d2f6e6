/**
 * ModelConfig + ModelWeights → an ONNX graph, cached on disk.
 *
 * One builder serves every architecture; the differences are switches of ModelConfig, which the
 * config parser fills from the architecture's traits (model/architectures.ts): q/k/v biases,
 * per-head q/k norm, Dream's logit shift, causal vs bidirectional attention. The builder never
 * looks at the architecture's name except to label the graph. Design choices, all made for CPU
 * speed with ONNX Runtime 1.30:
 *
 * - Weights are external-data initializers pointing into the checkpoint's safetensors files by
 *   byte offset, in their stored dtype. F16/BF16 weights get a Cast to float32 that ORT's constant
 *   folding evaluates once at session load, so fp32 math runs on them with no copy in JS.
 * - Linear layers use com.microsoft FusedMatMul with transB=1 directly on HF `[out, in]` weights
 *   (ORT prepacks the constant B, transposed or not). q/k/v and gate/up are each one matmul on
 *   row-concatenated weights (a Concat of initializers, also folded at load): fewer, larger GEMMs.
 * - Attention is the opset-23 `Attention` op: grouped-query natively, an additive mask built in
 *   the graph (padding, and causal with an arbitrary past), and past/present KV in
 *   [batch, kvHeads, length, headDim]. Unlike GroupQueryAttention it accepts batch > 1 with several
 *   new tokens on top of a past, which batched draft verification needs.
 * - RoPE is the opset-23 `RotaryEmbedding` (rotate-half) with cos/sin computed in the graph from
 *   position ids and the same inverse frequencies the reference uses, so no position table is
 *   baked in (models with 128k positions would otherwise carry a 64 MB table).
 * - The decode head (top-k ids/probs, entropy) is appended to the graph so decoders never pull
 *   full-vocabulary logits into JavaScript; `logits` stays an output, fetched only on request.
 * - Quantized graphs (`quantize: 'int8' | 'int4'`) hold every linear as com.microsoft MatMulNBits
 *   and the embedding as GatherBlockQuantized, which ORT 1.30's CPU provider runs at 4 and 8 bits
 *   and keeps quantized in memory. There is no fp16: ORT's CPU provider holds fp16 weights as
 *   float32 whichever way they enter the graph (a folded Cast, or an fp16 MatMul), so it would
 *   save nothing (docs/scale.md, "Data types").
 */
import { createHash } from 'node:crypto';
import {
  closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { cpus, homedir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { CheckpointError, OptionError } from '../errors.js';
import { readTensorF32, type TensorEntry } from '../model/safetensors.js';
import { checkFinite } from '../model/weights.js';
import { ropeInverseFrequencies } from '../model/rope.js';
import type { ModelConfig, ModelWeights } from '../model/types.js';
import type { WeightStore } from './weight-store.js';
import { ensureFloat32Bundle, Float32BundleStore, planFloat32Bundle, wantsFloat32Bundle, type Float32BundlePlan } from './float-bundle.js';
import { float, Graph, MICROSOFT, type ElemType } from './graph.js';
import { quantizeBlocks, type QuantBits } from './quantize.js';
import { readFully, writeFully } from '../model/file-io.js';

/** Bumped whenever the emitted graph changes, so stale cache entries are never reused. */
export const COMPILER_VERSION = 3;

/**
 * - `bidirectional`: the whole canvas, every position sees every position (diffusion LMs). Also
 *   outputs every position's keys/values (`present.N.key|value`, post-RoPE,
 *   [batch, kvHeads, sequence_length, headDim]) for callers that fill a cache; they are computed
 *   anyway and only cross into JavaScript when fetched.
 * - `causal`: new tokens on top of a past (autoregressive LMs, draft verification).
 * - `window`: bidirectional attention of a window of positions over cached keys/values of the
 *   others (diffusion KV caching, see docs/caching.md): inputs `input_ids` and `position_ids`
 *   [batch, window], `past_key_values.N.key|value` [batch, kvHeads, past, headDim] (post-RoPE, as
 *   the bidirectional graph outputs them) and `attention_mask` [batch, past + window], a key mask
 *   over [cached | fresh] (1 = attend). Outputs: the decode head and `logits` for the window, and
 *   `present.N.key|value` [batch, kvHeads, window, headDim] of the window's positions only. The
 *   logits are never shifted (for Dream, window slot j holds the prediction for position
 *   position_ids[j] + 1; the caller maps it).
 */
export type GraphKind = 'bidirectional' | 'causal' | 'window';
/**
 * How the weights are stored in the graph. 'none': as in the checkpoint, computed in float32.
 * 'int8' / 'int4': round-to-nearest block quantization at compile time (quantize.ts, block 32,
 * one float scale per block) of every linear — q/k/v/o, the MLP and the output head — with
 * MatMulNBits, and of the embedding with GatherBlockQuantized (a tied head shares the
 * embedding's codes). Activations stay float32.
 */
export type Quantization = 'none' | 'int8' | 'int4';
export const QUANTIZATIONS: readonly Quantization[] = ['none', 'int8', 'int4'];

/**
 * Bumped whenever a quantized graph changes. Part of the key of quantized graphs only, so that
 * fp32 keys (and every fp32 cache entry) stay what they were. 2: int8, and the embedding and
 * the output head quantized too (1: the layer linears only, int4).
 */
export const QUANTIZED_GRAPH_VERSION = 2;

export interface GraphOptions {
  kind: GraphKind;
  /** k of the in-graph top-k (default 8; clamped to the vocabulary size) */
  topK?: number;
  /** 'int8' / 'int4': every linear and the embedding block-quantized at compile time (see Quantization) */
  quantize?: Quantization;
  /** append the decode head (default true); false gives a plain transformers.js-style graph */
  head?: boolean;
  /**
   * causal only: 'embeds' takes `inputs_embeds` float32 [batch, sequence_length, hidden] in place
   * of `input_ids` (Superposed Decoding feeds mixtures of token embeddings). Default 'ids'.
   */
  inputs?: 'ids' | 'embeds';
  /**
   * causal only: an extra input `tree_mask` int64 [batch, sequence_length, sequence_length] (0/1):
   * new token i attends to new token j iff tree_mask[b, i, j] = 1 (its ancestors and itself in a
   * token tree packed into one sequence); every real cached key stays visible. `position_ids`
   * are the caller's (depth-based). Default false (plain causal mask).
   */
  tree?: boolean;
}

export interface CompileGraphOptions extends GraphOptions {
  /** cache root (default: env PARADEC_CACHE, else ~/.cache/paradec) */
  cacheDir?: string;
  /**
   * make sure the weights hold no NaN/Inf (model/weights.ts `checkFinite`; default false): scanned
   * unless the cache entry records a scan of exactly these files, unchanged since (see
   * `CompiledGraph.finite`). Not part of the key.
   */
  checkFinite?: boolean;
  /**
   * Told how far the work on the weights has got, in checkpoint bytes: the NaN/Inf scan
   * ('scan'), the conversion of a large F16/BF16 checkpoint to its float32 bundle or the int4
   * quantization ('weights'). Called only for work that happens (a cached graph of scanned files
   * reports nothing). Not part of the key.
   */
  onProgress?: CompileProgress;
  /**
   * Load F16/BF16 weights from a float32 copy converted once into the cache (float-bundle.ts)
   * rather than casting them in ORT at every load: less memory and time at load, the checkpoint's
   * size again in fp32 on disk. Default: for weight files over 64 MiB. Not part of the key
   * (the bundle's own key is).
   */
  float32Bundle?: boolean;
}

/**
 * Progress of a load's passes over the weights, `bytesDone` of `bytesTotal` checkpoint bytes:
 * 'scan' (NaN/Inf), 'weights' (float32 conversion or int4 quantization), and 'session' (ONNX
 * Runtime loading them: told only at its start and end, by compileModel).
 */
export type CompileProgress = (phase: 'scan' | 'weights' | 'session', bytesDone: number, bytesTotal: number) => void;

/** Names of the decode head's outputs. */
export const HEAD_OUTPUTS = { topkIds: 'topk_ids', topkProbs: 'topk_probs', entropy: 'entropy', logits: 'logits' } as const;

export interface CompiledGraph {
  kind: GraphKind;
  /** the .onnx file (weights not included) */
  modelPath: string;
  /** the directory external-data `location`s are relative to */
  externalDataDir: string;
  /** effective k of the head (0 when compiled without a head) */
  topK: number;
  quantize: Quantization;
  /** cache key */
  key: string;
  /** true when the graph came from the cache instead of being built now */
  cached: boolean;
  /** the directory of the checkpoint's weight files this graph was opened for */
  checkpointDir: string;
  /**
   * the NaN/Inf scan (`checkFinite` option): 'scanned' now, 'recorded' (skipped: the cache entry
   * records a passed scan of these very files, unchanged since), or 'unchecked' (not asked for)
   */
  finite: 'scanned' | 'recorded' | 'unchecked';
  /**
   * where ORT's optimized form of the graph for these very weight files is cached (CPU sessions;
   * SessionOptions.optimizedModel), for checkpoints up to OPTIMIZED_CACHE_MAX_BYTES
   */
  optimizedModel?: string;
}

const DEFAULT_TOP_K = 8;
/** Values per quantization block (one scale each): ORT's default, and what its int4 kernels are tuned for. */
const QUANT_BLOCK = 32;
/** Additive attention-mask value for excluded keys: finite, so fully masked rows stay NaN-free. */
const MASKED = -1e30;

export function cacheRoot(override?: string): string {
  return override ?? process.env['PARADEC_CACHE'] ?? join(homedir(), '.cache', 'paradec');
}

// ---------------------------------------------------------------------------------------------
// Where initializers come from

const DTYPE_ELEM: Record<string, ElemType> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export type { WeightStore };


function checkFloat(e: TensorEntry): ElemType {
  const t = DTYPE_ELEM[e.dtype];
  if (!t) throw new CheckpointError(`${e.file}: tensor '${e.name}' has dtype ${e.dtype}; paradec compiles F32, F16 and BF16 weights`);
  return t;
}

class CheckpointStore implements WeightStore {
  private readonly seen = new Map<TensorEntry, string>();
  readonly dir: string;

  constructor(weights: ModelWeights) {
    const dirs = new Set(allEntries(weights).map((e) => dirname(e.file)));
    if (dirs.size !== 1) throw new CheckpointError(`weights come from several directories (${[...dirs].join(', ')}); a compiled graph needs one`);
    this.dir = [...dirs][0]!;
  }

  float(g: Graph, e: TensorEntry): string {
    const hit = this.seen.get(e);
    if (hit) return hit;
    const type = checkFloat(e);
    const init = g.external(e.name, type, e.shape, { location: basename(e.file), offset: e.offset, length: e.byteLength });
    const value = type === 'float32' ? init : g.cast(init, 'float32');
    this.seen.set(e, value);
    return value;
  }

  data(g: Graph, hint: string, type: ElemType, dims: readonly number[], bytes: Uint8Array): string {
    return g.raw(hint, type, dims, bytes);
  }
}

/** Bytes copied per step when a tensor goes into a bundle as it is stored. */
const COPY_CHUNK_BYTES = 16 * 1024 * 1024;

class BundleStore implements WeightStore {
  static readonly FILE = 'weights.bin';
  private readonly seen = new Map<TensorEntry, string>();
  private readonly fd: number;
  private offset = 0;
  /** checkpoint tensors consumed (for progress), of `total` bytes */
  private readonly consumedEntries = new Set<TensorEntry>();
  private done = 0;
  private readonly total: number;

  constructor(dir: string, private readonly progress?: (done: number, total: number) => void, weights?: ModelWeights) {
    this.fd = openSync(join(dir, BundleStore.FILE), 'w');
    this.total = weights ? [...new Set(allEntries(weights))].reduce((n, e) => n + e.byteLength, 0) : 0;
  }

  /** Start a blob at the next 64-byte boundary. */
  private begin(): number {
    const pad = (64 - (this.offset % 64)) % 64;
    if (pad) writeFully(this.fd, new Uint8Array(pad), this.offset);
    this.offset += pad;
    return this.offset;
  }

  private append(bytes: Uint8Array): { location: string; offset: number; length: number } {
    const at = this.begin();
    // in pieces: one writeSync of 2 GiB or more is refused or cut short
    writeFully(this.fd, bytes, at);
    this.offset += bytes.byteLength;
    return { location: BundleStore.FILE, offset: at, length: bytes.byteLength };
  }

  /** A checkpoint tensor's stored bytes, copied a chunk at a time (any size, bounded memory). */
  private copy(e: TensorEntry): { location: string; offset: number; length: number } {
    const at = this.begin();
    const chunk = new Uint8Array(Math.min(COPY_CHUNK_BYTES, e.byteLength));
    const src = openSync(e.file, 'r');
    try {
      for (let done = 0; done < e.byteLength; done += chunk.byteLength) {
        const part = chunk.subarray(0, Math.min(chunk.byteLength, e.byteLength - done));
        readFully(src, part, e.offset + done, `${e.file}: tensor '${e.name}'`);
        writeFully(this.fd, part, at + done);
      }
    } finally {
      closeSync(src);
    }
    this.offset += e.byteLength;
    return { location: BundleStore.FILE, offset: at, length: e.byteLength };
  }

  /** Count these tensors as done (read and written or quantized), once each. */
  consumed(es: readonly TensorEntry[]): void {
    for (const e of es) {
      if (this.consumedEntries.has(e)) continue;
      this.consumedEntries.add(e);
      this.done += e.byteLength;
    }
    this.progress?.(this.done, this.total);
  }

  float(g: Graph, e: TensorEntry): string {
    const hit = this.seen.get(e);
    if (hit) return hit;
    const type = checkFloat(e);
    const init = g.external(e.name, type, e.shape, this.copy(e));
    this.consumed([e]);
    const value = type === 'float32' ? init : g.cast(init, 'float32');
    this.seen.set(e, value);
    return value;
  }

  data(g: Graph, hint: string, type: ElemType, dims: readonly number[], bytes: Uint8Array): string {
    return g.external(hint, type, dims, this.append(bytes));
  }

  close(): void {
    closeSync(this.fd);
  }
}

function allEntries(w: ModelWeights): TensorEntry[] {
  const out: TensorEntry[] = [w.embed, w.finalNorm, w.lmHead];
  for (const l of w.layers) for (const e of Object.values(l)) if (e) out.push(e as TensorEntry);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The decode head

export interface HeadOptions {
  /** ai.onnx opset of the graph the head is added to (ReduceSum takes axes as an input from 13) */
  opset?: number;
  /**
   * declare the outputs' shapes with paradec's symbolic dims (default true); off for graphs we
   * did not build, whose own dim names could mean something else
   */
  shapes?: boolean;
}

/**
 * Append the decode head to a graph whose `logits` value is float32 [batch, seq, vocab]:
 * outputs `topk_ids` int64 [b, s, k], `topk_probs` float [b, s, k] (softmax, temperature 1),
 * `entropy` float [b, s] in nats.
 *
 * Everything is computed from log-softmax, which ORT evaluates stably (max-subtracted):
 * probabilities of the top-k are exp(logsoftmax), and entropy = -Σ p·logp (equal to
 * logsumexp − Σ p·logit), a sum of non-negative terms with no cancellation.
 */
export function appendDecodeHead(g: Graph, logits: string, k: number, options: HeadOptions = {}): void {
  const opset = options.opset ?? 23;
  const logp = g.node('LogSoftmax', [logits], { axis: -1 }, '', `logp`);
  const [vals, ids] = g.nodeN('TopK', [logp, g.ints([k])], 2, { axis: -1, largest: 1, sorted: 1 }, '', `topk`) as [string, string];
  const probs = g.node('Exp', [vals], {}, '', `topk_probs`);
  const plogp = g.node('Mul', [g.node('Exp', [logp], {}, '', `p`), logp], {}, '', `plogp`);
  const sum = opset >= 13
    ? g.node('ReduceSum', [plogp, g.ints([-1])], { keepdims: 0 }, '', `sum`)
    : g.node('ReduceSum', [plogp], { axes: [-1], keepdims: 0 }, '', `sum`);
  const entropy = g.node('Neg', [sum], {}, '', `entropy`);
  const shaped = options.shapes ?? true;
  g.output(ids, HEAD_OUTPUTS.topkIds, 'int64', shaped ? ['batch_size', 'sequence_length', k] : undefined);
  g.output(probs, HEAD_OUTPUTS.topkProbs, 'float32', shaped ? ['batch_size', 'sequence_length', k] : undefined);
  g.output(entropy, HEAD_OUTPUTS.entropy, 'float32', shaped ? ['batch_size', 'sequence_length'] : undefined);
}

// ---------------------------------------------------------------------------------------------
// The transformer

function floatBytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A block-quantized [n, k] weight's initializers (MatMulNBits layout). */
interface QuantizedInit {
  /** uint8 [n, blocksPerRow, blockBytes] */
  codes: string;
  /** float32 [n, blocksPerRow] */
  scales: string;
  n: number;
  k: number;
  blocksPerRow: number;
  bits: QuantBits;
}

/** Build the graph (no caching). Exposed for tests and for tools that want the raw proto. */
export function buildGraph(c: ModelConfig, w: ModelWeights, options: Required<GraphOptions>, store: WeightStore): Graph {
  const { kind, quantize } = options;
  const causal = kind === 'causal';
  const H = c.hiddenSize;
  const D = c.headDim;
  const nH = c.numHeads;
  const nKv = c.numKvHeads;
  const I = c.intermediateSize;
  const g = new Graph(`paradec_${c.architecture}_${kind}`);

  /** Tensors stacked by rows: as the store holds them, else a Concat (folded by ORT at load). */
  const stacked = (es: TensorEntry[]): string => {
    if (es.length === 1) return store.float(g, es[0]!);
    if (store.floatRows) return store.floatRows(g, es);
    return g.concat(es.map((e) => store.float(g, e)), 0);
  };

  const rms = (x: string, weight: TensorEntry): string =>
    g.node('RMSNormalization', [x, store.float(g, weight)], { axis: -1, epsilon: float(c.rmsNormEps) }, '', 'rmsnorm');

  const bits: QuantBits | null = quantize === 'int4' ? 4 : quantize === 'int8' ? 8 : null;
  /** Quantized weights by their first tensor: the embedding's serve a tied output head too. */
  const quantized = new Map<TensorEntry, QuantizedInit>();
  /** [W1; W2; ...] (HF [out, in] weights stacked by rows) block-quantized into initializers. */
  const quantizedRows = (ws: TensorEntry[], qbits: QuantBits): QuantizedInit => {
    const hit = ws.length === 1 ? quantized.get(ws[0]!) : undefined;
    if (hit) return hit;
    const K = ws[0]!.shape[1]!;
    const N = ws.reduce((n, e) => n + e.shape[0]!, 0);
    let all: Float32Array;
    if (ws.length === 1) all = readTensorF32(ws[0]!);
    else {
      all = new Float32Array(N * K);
      let row = 0;
      for (const e of ws) {
        all.set(readTensorF32(e), row * K);
        row += e.shape[0]!;
      }
    }
    const q = quantizeBlocks(all, N, K, qbits, QUANT_BLOCK);
    const hint = ws.map((e) => e.name).join('+');
    const init: QuantizedInit = {
      codes: store.data(g, `${hint}.q${qbits}`, 'uint8', [N, q.blocksPerRow, (QUANT_BLOCK * qbits) / 8], q.packed),
      // [N, blocks]: the one shape both MatMulNBits and (unsqueezed) GatherBlockQuantized take
      scales: store.data(g, `${hint}.scales`, 'float32', [N, q.blocksPerRow], floatBytes(q.scales)),
      n: N, k: K, blocksPerRow: q.blocksPerRow, bits: qbits,
    };
    store.consumed?.(ws);
    if (ws.length === 1) quantized.set(ws[0]!, init);
    return init;
  };

  /** x @ [W1; W2; ...]^T (+ [b1; b2; ...]) for HF [out, in] weights stacked by rows. */
  const linear = (x: string, ws: TensorEntry[], biases: (TensorEntry | undefined)[] = []): string => {
    let y: string;
    if (bits !== null) {
      const q = quantizedRows(ws, bits);
      // accuracy_level 4: int8 activations, ORT's fast path (level 0 keeps float activations: 32×
      // slower at int8, 1.2× at int4; scripts/ort-quant-ops.ts, docs/scale.md)
      y = g.node('MatMulNBits', [x, q.codes, q.scales], { K: q.k, N: q.n, bits: q.bits, block_size: QUANT_BLOCK, accuracy_level: 4 }, MICROSOFT, `linear_q${q.bits}`);
    } else {
      y = g.linearT(x, stacked(ws));
    }
    if (biases.length && biases.every((b) => b)) y = g.add(y, stacked(biases as TensorEntry[]));
    return y;
  };

  const split = (x: string, sizes: number[]): string[] => g.nodeN('Split', [x, g.ints(sizes)], sizes.length, { axis: -1 });

  // ---- inputs ----
  const embedsIn = causal && options.inputs === 'embeds';
  if (!causal && (options.inputs === 'embeds' || options.tree)) throw new OptionError(`inputs_embeds and tree masks are options of causal graphs, not ${kind} ones`);
  const ids = embedsIn
    ? g.input('inputs_embeds', 'float32', ['batch_size', 'sequence_length', H])
    : g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  let mask: string;
  let positions: string;
  let bias: string;
  if (causal) {
    mask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
    positions = g.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
    // allowed[b, 1, i, j] = key j is real and j <= past + i
    const total = g.shape(mask, 1, 2);
    const past = g.sub(total, g.shape(ids, 1, 2));
    const zero = g.ints([0]);
    const one = g.ints([1]);
    const realKey = g.unsqueeze(g.cast(mask, 'bool'), [1, 2]); // [B, 1, 1, T]
    let allowed: string;
    if (options.tree) {
      // allowed[b, 1, i, j] = key j is real and (j < past or tree_mask[b, i, j - past])
      const tree = g.input('tree_mask', 'int64', ['batch_size', 'sequence_length', 'sequence_length']);
      const pads = g.concat([g.ints([0, 0]), past, g.ints([0, 0, 0])], 0);
      const full = g.node('Pad', [tree, pads, g.constant('int64', [], [1])], { mode: 'constant' }); // [B, S, T]
      allowed = g.node('And', [g.unsqueeze(g.cast(full, 'bool'), [1]), realKey]); // [B, 1, S, T]
    } else {
      const kIdx = g.node('Range', [g.squeeze(zero, [0]), g.squeeze(total, [0]), g.squeeze(one, [0])]);
      const qIdx = g.node('Range', [g.squeeze(past, [0]), g.squeeze(total, [0]), g.squeeze(one, [0])]);
      const causalOk = g.node('LessOrEqual', [kIdx, g.unsqueeze(qIdx, [1])]); // [S, T]
      allowed = g.node('And', [causalOk, realKey]); // [B, 1, S, T]
    }
    bias = g.node('Where', [allowed, g.scalar(0), g.scalar(MASKED)], {}, '', 'attn_bias');
  } else if (kind === 'window') {
    positions = g.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
    mask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
    // key mask over [cached | fresh], for every query of the window: [B, 1, S, T]
    const m = g.cast(mask, 'float32');
    const keyBias = g.unsqueeze(g.mul(g.sub(g.scalar(1), m), g.scalar(MASKED)), [1, 2]); // [B, 1, 1, T]
    const shape = g.concat([g.shape(ids, 0, 1), g.ints([1]), g.shape(ids, 1, 2), g.shape(mask, 1, 2)], 0);
    bias = g.node('Expand', [keyBias, shape], {}, '', 'attn_bias');
  } else {
    mask = g.input('attention_mask', 'int64', ['batch_size', 'sequence_length']);
    // Positions count real tokens only, so a row's result does not depend on where its padding is.
    const cum = g.node('CumSum', [mask, g.constant('int64', [], [1])]);
    positions = g.node('Max', [g.sub(cum, g.constant('int64', [], [1])), g.constant('int64', [], [0])], {}, '', 'positions');
    const m = g.cast(mask, 'float32');
    const keyBias = g.unsqueeze(g.mul(g.sub(g.scalar(1), m), g.scalar(MASKED)), [1, 2]); // [B, 1, 1, S]
    // ORT's Attention wants the mask's query axis spelled out: [B, 1, S, S]
    const seq = g.shape(ids, 1, 2);
    bias = g.node('Expand', [keyBias, g.concat([g.shape(ids, 0, 1), g.ints([1]), seq, seq], 0)], {}, '', 'attn_bias');
  }

  // ---- RoPE angles: cos/sin [B, S, D/2] ----
  const invFreq = Float32Array.from(ropeInverseFrequencies(c));
  const angles = g.mul(g.unsqueeze(g.cast(positions, 'float32'), [-1]), g.constant('float32', [D / 2], invFreq, 'inv_freq'));
  const cos = g.node('Cos', [angles]);
  const sin = g.node('Sin', [angles]);
  const rope = (x: string, heads: number): string =>
    g.node('RotaryEmbedding', [x, cos, sin], { interleaved: 0, num_heads: heads }, '', 'rope');
  const headNorm = (x: string, weight: TensorEntry, heads: number): string =>
    g.reshape(rms(g.reshape(x, [0, 0, heads, D]), weight), [0, 0, heads * D]);

  // ---- layers ----
  let x: string;
  if (embedsIn) x = ids;
  else if (bits !== null) {
    // the embedding's rows dequantized as they are gathered: [B, S, blocks, block] → [B, S, hidden]
    const q = quantizedRows([w.embed], bits);
    const rows = g.node('GatherBlockQuantized', [q.codes, ids, g.unsqueeze(q.scales, [2])], {
      bits: q.bits, block_size: QUANT_BLOCK, gather_axis: 0, quantize_axis: 2,
    }, MICROSOFT, `embed_q${q.bits}`);
    x = g.reshape(rows, [0, 0, q.blocksPerRow * QUANT_BLOCK]);
    if (q.blocksPerRow * QUANT_BLOCK !== H) x = g.slice(x, [0], [H], [2]); // the last block's padding
  } else x = g.gather(store.float(g, w.embed), ids);
  w.layers.forEach((L, i) => {
    const h = rms(x, L.attnNorm);
    let [q, k, v] = split(linear(h, [L.q, L.k, L.v], [L.qBias, L.kBias, L.vBias]), [nH * D, nKv * D, nKv * D]) as [string, string, string];
    if (c.qkNorm) {
      if (!L.qNorm || !L.kNorm) throw new CheckpointError(`layer ${i}: ${c.architecture} needs q_norm and k_norm weights`);
      q = headNorm(q, L.qNorm, nH);
      k = headNorm(k, L.kNorm, nKv);
    }
    q = rope(q, nH);
    k = rope(k, nKv);
    const attrs = { q_num_heads: nH, kv_num_heads: nKv, scale: float(1 / Math.sqrt(D)) };
    let a: string;
    /** this layer's fresh keys/values as [B, kvHeads, S, D] outputs (what a cache stores) */
    const presentFresh = (): void => {
      const dims = ['batch_size', nKv, 'sequence_length', D];
      g.output(g.transpose(g.reshape(k, [0, 0, nKv, D]), [0, 2, 1, 3]), `present.${i}.key`, 'float32', dims);
      g.output(g.transpose(g.reshape(v, [0, 0, nKv, D]), [0, 2, 1, 3]), `present.${i}.value`, 'float32', dims);
    };
    if (kind === 'window') {
      const kvDims = ['batch_size', nKv, 'past_sequence_length', D];
      const pastK = g.input(`past_key_values.${i}.key`, 'float32', kvDims);
      const pastV = g.input(`past_key_values.${i}.value`, 'float32', kvDims);
      a = g.nodeN('Attention', [q, k, v, bias, pastK, pastV], 3, attrs, '', `attn${i}`)[0]!;
      presentFresh();
    } else if (causal) {
      const kvDims = ['batch_size', nKv, 'past_sequence_length', D];
      const pastK = g.input(`past_key_values.${i}.key`, 'float32', kvDims);
      const pastV = g.input(`past_key_values.${i}.value`, 'float32', kvDims);
      const outs = g.nodeN('Attention', [q, k, v, bias, pastK, pastV], 3, attrs, '', `attn${i}`);
      a = outs[0]!;
      const presentDims = ['batch_size', nKv, 'total_sequence_length', D];
      g.output(outs[1]!, `present.${i}.key`, 'float32', presentDims);
      g.output(outs[2]!, `present.${i}.value`, 'float32', presentDims);
    } else {
      a = g.node('Attention', [q, k, v, bias], attrs, '', `attn${i}`);
      presentFresh();
    }
    x = g.add(x, linear(a, [L.o]));
    const h2 = rms(x, L.ffnNorm);
    const [gate, up] = split(linear(h2, [L.gate, L.up]), [I, I]) as [string, string];
    const act = g.mul(g.mul(gate, g.node('Sigmoid', [gate])), up);
    x = g.add(x, linear(act, [L.down]));
  });

  let hf = rms(x, w.finalNorm);
  if (c.shiftLogits && kind !== 'window') {
    // Dream: position i takes the prediction made at i-1 (position 0 keeps its own). Shifting the
    // hidden state before the lm head is the same thing on a tensor vocab/hidden times smaller.
    const first = g.slice(hf, [0], [1], [1]);
    const rest = g.slice(hf, [0], [-1], [1]);
    hf = g.concat([first, rest], 1);
  }
  const logits = g.output(linear(hf, [w.lmHead]), HEAD_OUTPUTS.logits, 'float32', ['batch_size', 'sequence_length', c.vocabSize]);
  if (options.head) appendDecodeHead(g, logits, options.topK);
  return g;
}

export const GRAPH_OPSETS = { '': 23, [MICROSOFT]: 1 };

// ---------------------------------------------------------------------------------------------
// Caching

/**
 * The cache key: everything the emitted graph depends on. A graph with external data (the
 * default) holds no weight values, only each tensor's file name, dtype, shape and byte range, and
 * it is opened with the checkpoint directory of the moment as its external-data directory: so the
 * config, the tensor table, the file names and sizes and the options determine it, and a moved,
 * copied or reinstalled checkpoint hits the same entry (before, the key hashed the files' paths,
 * mtimes and inodes, so every install compiled again: 220–400 ms). Hashing the files' bytes would
 * add nothing the graph depends on and cost a full read (4 MB of tiny-dlm: ~20 ms here; an 8B
 * checkpoint: seconds). A quantized graph does bake values in (its weights.bin), so its key keeps
 * the files' identity (path, size, mtime, inode): an edited file compiles anew. So does a graph
 * over a float32 bundle (float-bundle.ts), whose key is part of the graph's.
 */
function cacheKey(c: ModelConfig, w: ModelWeights, options: Required<GraphOptions>, identity: readonly FileIdentity[], bundleKey?: string): string {
  const { raw: _raw, ...config } = c;
  const baked = options.quantize !== 'none' || bundleKey !== undefined;
  const files = identity.map(([f, size, mtimeMs, ino]) => (baked ? [f, size, mtimeMs, ino] : [basename(f), size]));
  const tensors = allEntries(w).map((e) => [e.name, basename(e.file), e.dtype, e.shape, e.offset, e.byteLength]);
  // fp32 keys stay as they were before quantized graphs had a version of their own; `weights`
  // only when a bundle is used: the keys of graphs pointing into checkpoints stay as they were
  const quantized = options.quantize === 'none' ? {} : { q: QUANTIZED_GRAPH_VERSION };
  const json = JSON.stringify({ v: COMPILER_VERSION, config, files, tensors, options, ...quantized, ...(bundleKey !== undefined ? { weights: bundleKey } : {}) });
  return createHash('sha256').update(json).digest('hex').slice(0, 32);
}

function weightFiles(w: ModelWeights): string[] {
  return [...new Set(allEntries(w).map((e) => e.file))].sort();
}

/** What identifies a file's bytes without reading them: any write or replacement changes one of these. */
type FileIdentity = [path: string, size: number, mtimeMs: number, ino: number, ctimeMs: number];

function identityOf(w: ModelWeights): FileIdentity[] {
  return weightFiles(w).map((f) => {
    const st = statSync(f);
    return [f, st.size, st.mtimeMs, st.ino, st.ctimeMs];
  });
}

/**
 * ORT's optimized model (session.ts, SessionOptions.optimizedModel) holds every weight, folded to
 * float32, so caching it copies the checkpoint (twice its size for F16/BF16). Worth it for small
 * checkpoints, whose session creation it makes 30 ms faster (about half of it); past this size
 * the copy would cost more disk than the time it saves is worth, and graphs load as before.
 */
const OPTIMIZED_CACHE_MAX_BYTES = 64 * 1024 * 1024;

/** The optimized model's file for these weight files as they are now, on this kind of machine. */
function optimizedModelPath(entry: string, identity: readonly FileIdentity[]): string | undefined {
  if (identity.reduce((n, f) => n + f[1], 0) > OPTIMIZED_CACHE_MAX_BYTES) return undefined;
  // ORT's optimizations may pick kernels by CPU: a cache directory shared between machines keeps one per CPU
  const json = JSON.stringify({ identity, arch: process.arch, cpu: cpus()[0]?.model ?? '' });
  return join(entry, `optimized-${createHash('sha256').update(json).digest('hex').slice(0, 16)}.onnx`);
}

/** Scans recorded per entry (several copies of one checkpoint share an entry); the newest kept. */
const MAX_FINITE_RECORDS = 8;

interface CacheMeta {
  kind: GraphKind;
  topK: number;
  quantize: Quantization;
  /** null: the checkpoint directory (recorded separately), else a path relative to the entry */
  externalDataDir: null | string;
  /** the checkpoint the entry was compiled from (informational: copies share the entry) */
  checkpointDir: string;
  architecture: string;
  created: string;
  /**
   * weight files (by identity) whose NaN/Inf scan passed, newest last. A hit whose files match
   * one of these exactly skips the scan: the same path, size, mtime, ctime and inode mean the
   * bytes were not written since (a write updates mtime and ctime, a replacement changes the
   * inode), so the scan's verdict still holds. Saves the 120–250 ms scan of every load.
   */
  finite?: FileIdentity[][];
}

function sameIdentity(a: readonly FileIdentity[], b: readonly FileIdentity[]): boolean {
  return a.length === b.length && a.every((x, i) => x.length === b[i]!.length && x.every((v, j) => v === b[i]![j]));
}

/** Write meta.json whole or not at all (readers never see a torn file). */
function writeMeta(entry: string, meta: CacheMeta): void {
  const tmp = join(entry, `meta.json.tmp-${process.pid}-${Date.now()}`);
  writeFileSync(tmp, JSON.stringify(meta, null, 2));
  renameSync(tmp, join(entry, 'meta.json'));
}

/**
 * Compile (or fetch from the cache) the graph of a checkpoint. The cache entry is a directory
 * `<root>/graphs/<key>/` holding `model.onnx`, `meta.json` and, quantized, `weights.bin`; it is
 * built in a temporary directory and renamed into place, so concurrent compiles never see a
 * half-written entry. Entries are never evicted: one is a few KB to a few hundred KB of graph
 * (a quantized one also holds its quantized weights), one per checkpoint layout, graph kind and
 * options; delete `<root>/graphs` to reclaim the space (the next load compiles again). A large
 * F16/BF16 checkpoint's graphs point into `<root>/weights/<key>/weights-f32.bin`, its weights
 * in fp32 (float-bundle.ts: twice the checkpoint's size on disk, one per checkpoint, replaced
 * when its files change); delete `<root>/weights` to reclaim it (the next load converts again).
 */
export function compileGraph(c: ModelConfig, w: ModelWeights, options: CompileGraphOptions): CompiledGraph {
  let resolved: Required<GraphOptions>;
  try {
    resolved = resolveGraphOptions(c, options);
  } catch (e) {
    // the scan comes first, as when it ran in loadCheckpoint: a NaN checkpoint says so whatever the options
    if (options.checkFinite) checkFinite(w);
    throw e;
  }
  const { quantize } = resolved;


  const checkpointStore = new CheckpointStore(w);
  // one stat per weight file serves the key, the recorded scans and the optimized model's name
  const identity = identityOf(w);
  const root = cacheRoot(options.cacheDir);
  // a large F16/BF16 checkpoint loads from fp32 weights converted once (float-bundle.ts)
  const fileBytes = identity.reduce((n, f) => n + f[1], 0);
  const bundle: Float32BundlePlan | undefined = quantize === 'none' && wantsFloat32Bundle(w, fileBytes, options.float32Bundle)
    ? planFloat32Bundle(root, w, checkpointStore.dir, identity)
    : undefined;
  const key = cacheKey(c, w, resolved, identity, bundle?.key);
  const entry = join(root, 'graphs', key);
  const progress = options.onProgress;
  const scan = (): void => checkFinite(w, progress ? (done, total) => progress('scan', done, total) : undefined);
  const convert = (): Float32BundleStore | undefined =>
    bundle && new Float32BundleStore(ensureFloat32Bundle(bundle, progress ? (done, total) => progress('weights', done, total) : undefined));
  const modelPath = join(entry, 'model.onnx');
  const optimizedModel = optimizedModelPath(entry, identity);
  const result = (cached: boolean, finite: CompiledGraph['finite'], meta: CacheMeta): CompiledGraph => ({
    kind: resolved.kind,
    modelPath,
    externalDataDir: meta.externalDataDir === null ? checkpointStore.dir : join(entry, meta.externalDataDir),
    topK: resolved.head ? resolved.topK : 0,
    quantize,
    key,
    cached,
    checkpointDir: checkpointStore.dir,
    finite,
    ...(optimizedModel !== undefined ? { optimizedModel } : {}),
  });
  const recordScan = (meta: CacheMeta): CacheMeta => ({ ...meta, finite: [...(meta.finite ?? []), identity].slice(-MAX_FINITE_RECORDS) });
  if (existsSync(join(entry, 'meta.json')) && existsSync(modelPath)) {
    const meta = JSON.parse(readFileSync(join(entry, 'meta.json'), 'utf8')) as CacheMeta;
    if (!options.checkFinite || (meta.finite ?? []).some((f) => sameIdentity(f, identity))) {
      // the bundle is rebuilt (same bytes, same offsets) if someone deleted it
      convert();
      return result(true, options.checkFinite ? 'recorded' : 'unchecked', meta);
    }
    scan();
    convert();
    const updated = recordScan(meta);
    try {
      writeMeta(entry, updated);
    } catch {
      // a read-only or vanished cache: the scan passed, the next load just scans again
    }
    return result(true, 'scanned', updated);
  }
  if (options.checkFinite) scan();

  const tmp = `${entry}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  let meta: CacheMeta;
  try {
    let store: WeightStore = convert() ?? checkpointStore;
    let quantized: BundleStore | undefined;
    if (quantize !== 'none') store = quantized = new BundleStore(tmp, progress ? (done, total) => progress('weights', done, total) : undefined, w);
    let bytes: Uint8Array;
    try {
      const g = buildGraph(c, w, resolved, store);
      bytes = g.serialize(GRAPH_OPSETS, { 'paradec.kind': resolved.kind, 'paradec.architecture': c.architecture, 'paradec.topk': String(resolved.topK) });
    } finally {
      quantized?.close();
    }
    writeFileSync(join(tmp, 'model.onnx'), bytes);
    meta = {
      kind: resolved.kind, topK: resolved.topK, quantize,
      // the graph's own weights.bin (int8, int4), the shared float32 bundle (relative: the cache may move), or the checkpoint
      externalDataDir: quantized ? '.' : bundle ? relative(entry, bundle.dir) : null,
      checkpointDir: checkpointStore.dir,
      architecture: c.architecture,
      created: new Date().toISOString(),
    };
    if (options.checkFinite) meta = recordScan(meta);
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
    try {
      renameSync(tmp, entry);
    } catch (e) {
      // another process finished the same entry first: use theirs
      if (!existsSync(join(entry, 'meta.json'))) throw e;
      rmSync(tmp, { recursive: true, force: true });
      meta = JSON.parse(readFileSync(join(entry, 'meta.json'), 'utf8')) as CacheMeta;
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return result(false, options.checkFinite ? 'scanned' : 'unchecked', meta);
}

/**
 * Whether compileGraph would find this graph in the cache (no compiling, no quantizing): what the
 * memory check before loading needs to know (runtime/memory.ts). False for options it would reject.
 */
export function isGraphCached(c: ModelConfig, w: ModelWeights, options: CompileGraphOptions): boolean {
  let resolved: Required<GraphOptions>;
  try {
    resolved = resolveGraphOptions(c, options);
  } catch {
    return false;
  }
  const entry = join(cacheRoot(options.cacheDir), 'graphs', cacheKey(c, w, resolved, identityOf(w)));
  return existsSync(join(entry, 'meta.json')) && existsSync(join(entry, 'model.onnx'));
}

function resolveGraphOptions(c: ModelConfig, options: CompileGraphOptions): Required<GraphOptions> {
  const topK = options.topK ?? DEFAULT_TOP_K;
  if (!Number.isInteger(topK) || topK < 1) throw new OptionError(`topK must be a positive integer, got ${topK}`);
  const quantize = options.quantize ?? 'none';
  if (!QUANTIZATIONS.includes(quantize)) throw new OptionError(`quantize must be one of ${QUANTIZATIONS.map((q) => `'${q}'`).join(', ')}, got '${String(quantize)}'`);
  if (options.kind !== 'causal' && options.kind !== 'bidirectional' && options.kind !== 'window') {
    throw new OptionError(`graph kind must be 'causal', 'bidirectional' or 'window', got '${String(options.kind)}'`);
  }
  const inputs = options.inputs ?? 'ids';
  if (inputs !== 'ids' && inputs !== 'embeds') throw new OptionError(`inputs must be 'ids' or 'embeds', got '${String(inputs)}'`);
  const tree = options.tree ?? false;
  if (options.kind !== 'causal' && (inputs !== 'ids' || tree)) throw new OptionError(`inputs: 'embeds' and tree: true are options of causal graphs, not ${options.kind} ones`);
  if (options.kind === 'causal' && c.shiftLogits) {
    // Dream's shift moves each prediction one position right; with a KV cache the first new
    // token of every step would get its own logits instead of its predecessor's.
    throw new OptionError(`${c.architecture} shifts its logits (position i predicts token i); it cannot run as a causal model with a KV cache`);
  }
  if (c.headDim % 2 !== 0) throw new CheckpointError(`head dimension ${c.headDim} must be even for RoPE`);
  return { kind: options.kind, topK: Math.min(topK, c.vocabSize), quantize, head: options.head ?? true, inputs, tree };
}
