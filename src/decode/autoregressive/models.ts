/**
 * Loading the extra models some strategies need (a draft LM, a diffusion drafter, a "safe" model,
 * a layer-skipped copy of the target), lazily, on the first step that needs them.
 *
 * A draft is compiled like the target: into the same graph cache and with the same top-k as the
 * target when the target is a compiled checkpoint (read from its compiled graph), so that tests
 * and tools that point the cache somewhere else keep everything there. Draft models get 1 ORT
 * thread by default (`threads`): they are small, and PEARL runs them beside the target. Sequential
 * drafters run in-process by default (`in_process`: `compileModel(…, { inProcess: true })`,
 * runtime/inprocess-model.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OptionError } from '../../errors.js';
import { loadCheckpoint } from '../../model/checkpoint.js';
import { loadTokenizer } from '../../model/tokenizer.js';
import type { ModelConfig, ModelWeights } from '../../model/types.js';
import { OnnxBidirectionalModel } from '../../runtime/bidirectional-model.js';
import { OnnxCausalModel } from '../../runtime/causal-model.js';
import { compileModel, type CompileOptions, type CompiledModel } from '../../runtime/compile-model.js';
import type { BidirectionalModel, CausalModel } from '../../runtime/types.js';

/** What a strategy holds of a loaded extra model. */
export interface Loaded<M> {
  readonly model: M;
  readonly dir: string;
  dispose(): Promise<void>;
}

/** The compile options that put a draft next to the target's compiled graph. */
export function compileOptionsLike(target: CausalModel, threads: number): CompileOptions {
  const options: CompileOptions = {};
  if (threads > 0) options.threads = threads;
  if (target instanceof OnnxCausalModel && target.graph) {
    // <cacheRoot>/graphs/<key>/model.onnx
    options.cacheDir = dirname(dirname(dirname(target.graph.modelPath)));
    options.topK = target.topK;
  }
  return options;
}

/** The checkpoint directory a compiled target was built from, when it was compiled by paradec. */
export function targetCheckpointDir(target: CausalModel): string | null {
  if (!(target instanceof OnnxCausalModel) || !target.graph) return null;
  const meta = join(dirname(target.graph.modelPath), 'meta.json');
  if (!existsSync(meta)) return null;
  try {
    const dir = (JSON.parse(readFileSync(meta, 'utf8')) as { checkpointDir?: unknown }).checkpointDir;
    return typeof dir === 'string' ? dir : null;
  } catch {
    return null; // an unreadable cache entry: the caller asks for the directory explicitly
  }
}

/**
 * Token → text for strategies that look at token text: the loop's `tokenText` when it was given
 * one, else the tokenizer of the checkpoint the target was compiled from.
 */
export function tokenTextFor(owner: string, session: { tokenText: ((id: number) => string) | undefined; model: CausalModel }): (id: number) => string {
  if (session.tokenText) return session.tokenText;
  const dir = targetCheckpointDir(session.model);
  if (!dir) throw new OptionError(`${owner}: needs the tokenizer to find punctuation, and the target was not compiled from a checkpoint directory`);
  const tokenizer = loadTokenizer(dir);
  const memo = new Map<number, string>();
  const text = (id: number): string => {
    let t = memo.get(id);
    if (t === undefined) memo.set(id, (t = tokenizer.decode([id])));
    return t;
  };
  session.tokenText = text;
  return text;
}

/** A directory, or the name of a built-in model (`models/<name>`). */
export async function resolveDir(dirOrName: string): Promise<string> {
  // imported here, not at the top: api.ts imports the registry, which imports this file
  const { resolveModelDir } = await import('../../api.js');
  return resolveModelDir(dirOrName);
}

function wrap<M>(model: M & { dispose(): Promise<void> }, dir: string): Loaded<M> {
  return { model, dir, dispose: () => model.dispose() };
}

/**
 * Extra models are shared per target model. A server or a batch creates a strategy per request,
 * and loading a draft (graph-cache hit, ORT session creation, weight checks) costs about as much
 * as a whole generation with the built-in models (measured: ~5–10 ms per request on tiny-ar-draft). So
 * each load is kept per (target object, what was loaded, how); a strategy's `dispose()` only drops
 * its reference, and `releaseSharedModels(target)` releases them (ParadecModel.dispose calls it).
 * Sharing is safe: every forward takes its KV cache as an argument, so concurrent generations
 * never see each other's state.
 */
const SHARED = new WeakMap<object, Map<string, Promise<Loaded<unknown>>>>();

function shared<M>(target: object, key: string, load: () => Promise<Loaded<M>>): Promise<Loaded<M>> {
  let byKey = SHARED.get(target);
  if (!byKey) SHARED.set(target, (byKey = new Map()));
  let loading = byKey.get(key) as Promise<Loaded<M>> | undefined;
  if (!loading) {
    loading = load();
    byKey.set(key, loading);
    const table = byKey;
    loading.catch(() => table.delete(key)); // a failed load is tried again next time
  }
  return loading.then((l) => ({ model: l.model, dir: l.dir, dispose: async () => {} }));
}

/** Release the extra models loaded for `target` (draft, drafter, safe, layer-skipped models). */
export async function releaseSharedModels(target: object): Promise<void> {
  const byKey = SHARED.get(target);
  if (!byKey) return;
  SHARED.delete(target);
  for (const loading of byKey.values()) {
    let loaded: Loaded<unknown>;
    try {
      loaded = await loading;
    } catch {
      continue; // it never loaded: nothing to release
    }
    await loaded.dispose();
  }
}

function checkVocab(owner: string, what: string, dir: string, vocab: number, target: CausalModel): void {
  if (vocab !== target.vocabSize) {
    throw new OptionError(`${owner}: the ${what} ${dir} has a vocabulary of ${vocab} tokens, the target ${target.vocabSize}; they must share a tokenizer`);
  }
}

/**
 * Load a causal draft / safe model sharing the target's vocabulary. `inProcess` runs its session
 * on this thread (runtime/inprocess-model.ts: cheaper for small drafters, and PEARL's draft overlaps
 * the worker-backed target from here); otherwise it gets its own worker like any compiled model.
 */
export async function loadCausal(owner: string, what: string, dirOrName: string, target: CausalModel, threads: number, inProcess = false): Promise<Loaded<CausalModel>> {
  const dir = await resolveDir(dirOrName);
  return shared(target, JSON.stringify(['causal', dir, threads, inProcess]), () => loadCausalNow(owner, what, dir, target, threads, inProcess));
}

async function loadCausalNow(owner: string, what: string, dir: string, target: CausalModel, threads: number, inProcess: boolean): Promise<Loaded<CausalModel>> {
  if (inProcess) {
    const ckpt = loadCheckpoint(dir);
    if (!ckpt.config.causal) throw new OptionError(`${owner}: the ${what} ${dir} is not an autoregressive model`);
    checkVocab(owner, what, dir, ckpt.config.vocabSize, target);
    const model = await compileModel(ckpt, { ...compileOptionsLike(target, threads), inProcess: true });
    return wrap<CausalModel>(model, dir);
  }
  const compiled: CompiledModel = await compileModel(dir, { ...compileOptionsLike(target, threads), kind: 'causal' });
  if (!(compiled instanceof OnnxCausalModel)) {
    await compiled.dispose();
    throw new OptionError(`${owner}: the ${what} ${dir} is not an autoregressive model`);
  }
  try {
    checkVocab(owner, what, dir, compiled.vocabSize, target);
  } catch (e) {
    await compiled.dispose();
    throw e;
  }
  return wrap<CausalModel>(compiled, dir);
}

/** Load a diffusion (bidirectional) drafter sharing the target's vocabulary. */
export async function loadBidirectional(owner: string, what: string, dirOrName: string, target: CausalModel, threads: number): Promise<Loaded<BidirectionalModel>> {
  const dir = await resolveDir(dirOrName);
  return shared(target, JSON.stringify(['bidirectional', dir, threads]), () => loadBidirectionalNow(owner, what, dir, target, threads));
}

async function loadBidirectionalNow(owner: string, what: string, dir: string, target: CausalModel, threads: number): Promise<Loaded<BidirectionalModel>> {
  const compiled: CompiledModel = await compileModel(dir, compileOptionsLike(target, threads));
  if (!(compiled instanceof OnnxBidirectionalModel)) {
    await compiled.dispose();
    throw new OptionError(`${owner}: the ${what} ${dir} is not a diffusion model (DEER drafts with a diffusion LM)`);
  }
  try {
    checkVocab(owner, what, dir, compiled.vocabSize, target);
  } catch (e) {
    await compiled.dispose();
    throw e;
  }
  return wrap<BidirectionalModel>(compiled, dir);
}

/**
 * Unified Layer Skipping's choice (Liu et al. 2024, arXiv:2404.06954): the number of layers to
 * keep follows from the target speedup ratio alone (round(L / ratio), at least 2 when L ≥ 2), and
 * the skipped layers are spread evenly over the intermediate layers: the kept ones are evenly
 * spaced from the first layer to the last, which are always kept.
 */
export function unifiedKeptLayers(numLayers: number, ratio: number): number[] {
  if (!(ratio >= 1)) throw new OptionError(`layerskip: ratio must be >= 1, got ${ratio}`);
  const keep = Math.min(numLayers, Math.max(Math.min(2, numLayers), Math.round(numLayers / ratio)));
  if (keep === 1) return [0];
  const out: number[] = [];
  for (let i = 0; i < keep; i++) {
    const at = Math.round((i * (numLayers - 1)) / (keep - 1));
    if (!out.includes(at)) out.push(at);
  }
  return out;
}

/**
 * The target with only `layers` kept, compiled as its own causal graph over the same weight
 * files (no copy): the layer-skip self-drafter.
 */
export async function loadLayerSubset(owner: string, checkpointDir: string, layers: readonly number[], target: CausalModel, threads: number, inProcess = false): Promise<Loaded<CausalModel>> {
  return shared(target, JSON.stringify(['layers', checkpointDir, layers, threads, inProcess]), () => loadLayerSubsetNow(owner, checkpointDir, layers, target, threads, inProcess));
}

async function loadLayerSubsetNow(owner: string, checkpointDir: string, layers: readonly number[], target: CausalModel, threads: number, inProcess: boolean): Promise<Loaded<CausalModel>> {
  const ckpt = loadCheckpoint(checkpointDir, { checkFinite: false });
  const config: ModelConfig = { ...ckpt.config, numLayers: layers.length };
  const weights: ModelWeights = { ...ckpt.weights, layers: layers.map((i) => ckpt.weights.layers[i]!) };
  if (inProcess) return wrap<CausalModel>(await compileModel({ config, weights }, { ...compileOptionsLike(target, threads), inProcess: true }), checkpointDir);
  const compiled = await compileModel({ config, weights }, { ...compileOptionsLike(target, threads), kind: 'causal' });
  if (!(compiled instanceof OnnxCausalModel)) {
    await compiled.dispose();
    throw new OptionError(`${owner}: ${checkpointDir} did not compile as a causal model`);
  }
  return wrap<CausalModel>(compiled, checkpointDir);
}

/**
 * A lazily loaded resource: the first `get` loads it (later calls share that load), `dispose`
 * releases it if it was loaded. Strategies are created synchronously, so their models load here
 * on the first step.
 */
export class Lazy<T extends { dispose(): Promise<void> }> {
  private value: Promise<T> | undefined;

  get(load: () => Promise<T>): Promise<T> {
    this.value ??= load();
    return this.value;
  }

  async dispose(): Promise<void> {
    const v = this.value;
    this.value = undefined;
    if (!v) return;
    let loaded: T;
    try {
      loaded = await v;
    } catch {
      return; // it never loaded: nothing to release
    }
    await loaded.dispose();
  }
}

/** A model given by the caller (tests, tools): used as is, never disposed by the strategy. */
export function borrowed<M>(model: M, dir = '(given)'): Loaded<M> {
  return { model, dir, dispose: async () => {} };
}
