/**
 * Test doubles for the autoregressive strategies: a batched scripted causal model (its "KV cache"
 * stores the token prefix of each row in the [batch, 1, length, 1] layout, so row gathering,
 * rollback and batched verification are exact and checkable), an embedding-input variant for
 * Superposed Decoding, scripted extra models, and a chi-square test.
 */
import { headFromLogits } from '../../src/decode/head.js';
import type { CausalModel, DecodeHeadOutput, ForwardOptions, KvCache } from '../../src/runtime/types.js';
import type { EmbeddingCausalModel } from '../../src/decode/autoregressive/superposed.js';
import { NO_EXTRA_MODELS, type ExtraModels } from '../../src/decode/autoregressive/extra-models.js';

/** The extra models a test gives its strategies (scripted draft models, token text); the rest is refused. */
export function scriptedModels(given: Partial<ExtraModels>): ExtraModels {
  return { ...NO_EXTRA_MODELS, ...given };
}

export type NextLogits = (prefix: readonly number[]) => Float32Array;

export class BatchScripted implements CausalModel {
  readonly kind = 'causal' as const;
  readonly numLayers = 1;
  calls = 0;
  /** [rows, newLength] of every forward */
  readonly shapes: [number, number][] = [];
  constructor(
    readonly vocabSize: number,
    readonly eosTokenIds: readonly number[],
    protected readonly next: NextLogits,
    readonly maxPositions = 4096,
    readonly topK = 8,
  ) {}

  emptyCache(batch: number): KvCache {
    return { batch, length: 0, keys: [new Float32Array(0)], values: [new Float32Array(0)] };
  }

  protected rowPrefix(cache: KvCache, b: number): number[] {
    const a = cache.keys[0]!;
    return Array.from(a.subarray(b * cache.length, (b + 1) * cache.length), (x) => Math.round(x));
  }

  protected build(prefixes: number[][], batch: number, newLength: number, logits: Float32Array, options: ForwardOptions): { head: DecodeHeadOutput; cache: KvCache } {
    this.calls += 1;
    this.shapes.push([batch, newLength]);
    const head = headFromLogits(logits, batch, newLength, this.vocabSize, this.topK);
    if (!options.logits) delete head.logits;
    const length = prefixes[0]!.length;
    const store = new Float32Array(batch * length);
    prefixes.forEach((p, b) => store.set(p, b * length));
    return { head, cache: { batch, length, keys: [store], values: [store] } };
  }

  async forward(tokens: Int32Array, batch: number, newLength: number, cache: KvCache, options: ForwardOptions = {}): Promise<{ head: DecodeHeadOutput; cache: KvCache }> {
    if (cache.batch !== batch) throw new Error(`cache batch ${cache.batch} != ${batch}`);
    const V = this.vocabSize;
    const logits = new Float32Array(batch * newLength * V);
    const prefixes: number[][] = [];
    for (let b = 0; b < batch; b++) {
      const prefix = this.rowPrefix(cache, b);
      for (let j = 0; j < newLength; j++) {
        prefix.push(tokens[b * newLength + j]!);
        logits.set(this.next(prefix), (b * newLength + j) * V);
      }
      prefixes.push(prefix);
    }
    return this.build(prefixes, batch, newLength, logits, options);
  }

  truncateCache(cache: KvCache, length: number): KvCache {
    const store = new Float32Array(cache.batch * length);
    for (let b = 0; b < cache.batch; b++) store.set(cache.keys[0]!.subarray(b * cache.length, b * cache.length + length), b * length);
    return { batch: cache.batch, length, keys: [store], values: [store] };
  }
}

/**
 * A scripted model that also takes input embeddings: the embedding of token t is the one-hot
 * vector e_t (hidden = vocab), and an embedding input x is read as the token argmax(x), while
 * `seen` records each input's weights, so a test can check the superposition that was fed.
 */
export class EmbeddingScripted extends BatchScripted implements EmbeddingCausalModel {
  readonly hiddenSize: number;
  readonly seen: Float32Array[] = [];
  constructor(vocabSize: number, eos: readonly number[], next: NextLogits) {
    super(vocabSize, eos, next);
    this.hiddenSize = vocabSize;
  }

  embed(ids: readonly number[]): Float32Array {
    const out = new Float32Array(ids.length * this.vocabSize);
    ids.forEach((t, i) => (out[i * this.vocabSize + t] = 1));
    return out;
  }

  async forwardEmbeddings(embeds: Float32Array, batch: number, newLength: number, cache: KvCache, options: ForwardOptions = {}): Promise<{ head: DecodeHeadOutput; cache: KvCache }> {
    const H = this.hiddenSize;
    const tokens = new Int32Array(batch * newLength);
    for (let i = 0; i < batch * newLength; i++) {
      const x = embeds.subarray(i * H, (i + 1) * H);
      this.seen.push(Float32Array.from(x));
      let best = 0;
      for (let h = 1; h < H; h++) if (x[h]! > x[best]!) best = h;
      tokens[i] = best;
    }
    return this.forward(tokens, batch, newLength, cache, options);
  }
}

/** Logits from probabilities. */
export function logitsOf(probs: readonly number[]): Float32Array {
  return Float32Array.from(probs, (p) => Math.log(Math.max(p, 1e-30)));
}

/** A deterministic pseudo-random distribution over `vocab` for a prefix (sharpness: larger = peakier). */
export function hashedDistribution(prefix: readonly number[], vocab: number, salt: number, sharpness = 2): number[] {
  let h = 2166136261 ^ salt;
  for (const t of prefix) h = Math.imul(h ^ (t + 1), 16777619) >>> 0;
  const w: number[] = [];
  for (let v = 0; v < vocab; v++) {
    h = Math.imul(h ^ (v + 0x9e37), 2246822519) >>> 0;
    h ^= h >>> 13;
    w.push(Math.exp(sharpness * ((h >>> 0) / 4294967296)));
  }
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / s);
}

/** ln Γ (Lanczos). */
function lnGamma(z: number): number {
  const g = 7;
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - lnGamma(1 - z);
  z -= 1;
  let x = c[0]!;
  for (let i = 1; i < g + 2; i++) x += c[i]! / (z + i);
  const t = z + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(x);
}

/** Upper regularized incomplete gamma Q(a, x). */
function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 500; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-14) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
  }
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-14) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}

/**
 * Pearson chi-square goodness of fit of `counts` to `expected` probabilities; cells with small
 * expectation are pooled. Returns the p-value.
 */
export function chiSquareP(counts: ReadonlyMap<string, number>, expected: ReadonlyMap<string, number>, n: number): { p: number; stat: number; df: number } {
  const cells = [...expected.entries()].sort((a, b) => b[1] - a[1]);
  let stat = 0;
  let df = -1;
  let poolE = 0;
  let poolO = 0;
  for (const [key, prob] of cells) {
    const e = prob * n;
    const o = counts.get(key) ?? 0;
    if (e >= 5) {
      stat += ((o - e) * (o - e)) / e;
      df += 1;
    } else {
      poolE += e;
      poolO += o;
    }
  }
  for (const [key, o] of counts) if (!expected.has(key)) poolO += o; // impossible outcomes count against the fit
  if (poolE > 0 || poolO > 0) {
    const e = Math.max(poolE, 1e-9);
    stat += ((poolO - e) * (poolO - e)) / e;
    df += 1;
  }
  return { p: df > 0 ? gammaQ(df / 2, stat / 2) : 1, stat, df };
}
