/**
 * A causal model whose ONNX Runtime session runs on the calling thread, for small draft models
 * (`compileModel(source, { inProcess: true })`).
 *
 * paradec's compiled models run each session in a worker thread (runtime/session.ts) so a long
 * forward never blocks the event loop. A drafter is the opposite case: its forwards are tiny,
 * sequential and latency-bound, and the thread hop (post, wake, clone the KV cache, reply) costs
 * more than the forward itself — on the 2-core reference machine a 1-layer d64 draft forward
 * takes ~0.16–0.25 ms in-process and ~0.47–0.85 ms through a worker, while a 4-layer d128 target
 * forward takes ~1.4 ms through its worker. Running the draft in-process keeps the draft/target cost ratio, the
 * number that decides whether speculative decoding pays off, low. It also lets a draft overlap a
 * worker-backed target (PEARL): the target computes on its worker's thread while this thread
 * drafts.
 *
 * The graph is the one the runtime compiles (`compileGraph`, same cache, same decode head and I/O
 * names), so the outputs are those of the worker-backed model (tested). The KV cache lives in
 * plain arrays on this thread; there is no worker to keep it resident in.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
// Types only: the runtime is required by `open`, so importing this module (which compile-model.ts,
// and through it every command that loads a model, does) does not load onnxruntime-node's native
// binding on the main thread — 45–80 ms of CPU (measured) that only an in-process draft needs;
// worker-backed sessions import it in their worker (and the main thread only to start ORT for a
// process's first session, session.ts).
import type * as Ort from 'onnxruntime-node';
import { InputError, RuntimeFailure } from '../errors.js';
import type { ModelConfig } from '../model/types.js';
import { HEAD_OUTPUTS, type CompiledGraph } from './compile.js';
import type { OrtRuntime } from './ort-start.js';
import { positionIds, presentNames } from './forward-io.js';
import { emptyPlainCache, truncatePlainCache } from './plain-kv-cache.js';
import type { CausalModel, DecodeHeadOutput, ForwardOptions, KvCache } from './types.js';

export interface InProcessOptions {
  /** ORT intra-op threads (default: ORT's choice) */
  threads?: number;
}

export class InProcessCausalModel implements CausalModel {
  readonly kind = 'causal' as const;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly numLayers: number;
  readonly eosTokenIds: readonly number[];
  private readonly presentNames: string[];
  private readonly hasPositions: boolean;
  private readonly hasCacheBranch: boolean;

  private constructor(
    private readonly config: ModelConfig,
    private readonly ort: OrtRuntime,
    private readonly session: Ort.InferenceSession,
    readonly topK: number,
  ) {
    this.vocabSize = config.vocabSize;
    this.maxPositions = config.maxPositions;
    this.numLayers = config.numLayers;
    this.eosTokenIds = config.eosTokenIds;
    this.presentNames = presentNames(config.numLayers);
    this.hasPositions = session.inputNames.includes('position_ids');
    this.hasCacheBranch = session.inputNames.includes('use_cache_branch');
  }

  /** Open a compiled causal graph in this thread (use `compileModel(source, { inProcess: true })`). */
  static async open(config: ModelConfig, graph: CompiledGraph, options: InProcessOptions = {}): Promise<InProcessCausalModel> {
    // require, not `await import()`: under tsx a dynamic import of this CommonJS package has no
    // `default`; require gives its exports in both trees
    const ort = createRequire(import.meta.url)('onnxruntime-node') as OrtRuntime;
    const sessionOptions: Ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      interOpNumThreads: 1,
      logSeverityLevel: 3,
      extra: { session: { model_external_initializers_file_folder_path: graph.externalDataDir } },
    };
    if (options.threads !== undefined && options.threads > 0) sessionOptions.intraOpNumThreads = options.threads;
    let session: Ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(await readFile(graph.modelPath), sessionOptions);
    } catch (e) {
      throw new RuntimeFailure(`${graph.modelPath}: ONNX Runtime could not load the graph: ${(e as Error).message}`, { cause: e });
    }
    return new InProcessCausalModel(config, ort, session, graph.topK);
  }

  emptyCache(batch: number): KvCache {
    return emptyPlainCache(batch, this.numLayers);
  }

  async forward(tokens: Int32Array, batch: number, newLength: number, cache: KvCache, options: ForwardOptions = {}): Promise<{ head: DecodeHeadOutput; cache: KvCache }> {
    if (tokens.length !== batch * newLength) throw new InputError(`forward: ${tokens.length} tokens for batch ${batch} × length ${newLength}`);
    if (cache.batch !== batch) throw new InputError(`forward: cache is for batch ${cache.batch}, tokens for batch ${batch}`);
    const past = cache.length;
    const total = past + newLength;
    if (total > this.maxPositions) throw new InputError(`forward: ${total} positions exceed the model's ${this.maxPositions}`);
    const c = this.config;
    const ids = new BigInt64Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t < 0 || t >= this.vocabSize) throw new InputError(`forward: token ${t} is outside the vocabulary (0..${this.vocabSize - 1})`);
      ids[i] = BigInt(t);
    }
    const ort = this.ort;
    const feeds: Record<string, Ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [batch, newLength]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(batch * total).fill(1n), [batch, total]),
    };
    if (this.hasPositions) {
      feeds['position_ids'] = new ort.Tensor('int64', positionIds(batch, newLength, past), [batch, newLength]);
    }
    if (this.hasCacheBranch) feeds['use_cache_branch'] = new ort.Tensor('bool', Uint8Array.of(past > 0 ? 1 : 0), [1]);
    const kvDims = [batch, c.numKvHeads, past, c.headDim];
    const own = (a: Float32Array): Float32Array => (a.buffer instanceof ArrayBuffer ? a : a.slice());
    for (let i = 0; i < this.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', own(cache.keys[i]!), kvDims);
      feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', own(cache.values[i]!), kvDims);
    }
    const fetches = [HEAD_OUTPUTS.topkIds, HEAD_OUTPUTS.topkProbs, HEAD_OUTPUTS.entropy, ...(options.logits ? [HEAD_OUTPUTS.logits] : []), ...this.presentNames];
    let out: Ort.InferenceSession.ReturnType;
    try {
      out = await this.session.run(feeds, fetches);
    } catch (e) {
      throw new RuntimeFailure(`in-process forward failed: ${(e as Error).message}`, { cause: e });
    }
    const ids64 = out[HEAD_OUTPUTS.topkIds]!.data as BigInt64Array;
    const head: DecodeHeadOutput = {
      batch,
      length: newLength,
      k: this.topK,
      topkIds: Int32Array.from(ids64, (x) => Number(x)),
      topkProbs: out[HEAD_OUTPUTS.topkProbs]!.data as Float32Array,
      entropy: out[HEAD_OUTPUTS.entropy]!.data as Float32Array,
      vocabSize: this.vocabSize,
    };
    if (options.logits) head.logits = out[HEAD_OUTPUTS.logits]!.data as Float32Array;
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let i = 0; i < this.numLayers; i++) {
      keys.push(out[`present.${i}.key`]!.data as Float32Array);
      values.push(out[`present.${i}.value`]!.data as Float32Array);
    }
    return { head, cache: { batch, length: total, keys, values } };
  }

  truncateCache(cache: KvCache, length: number): KvCache {
    if (!Number.isInteger(length) || length < 0 || length > cache.length) {
      throw new InputError(`truncateCache: length ${length} is not within the cache's 0..${cache.length}`);
    }
    return truncatePlainCache(cache, length, this.config.numKvHeads, this.config.headDim);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
