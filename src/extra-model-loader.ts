/**
 * Loading, from disk, the extra models some autoregressive strategies need (a draft LM, a
 * diffusion drafter, a "safe" model, a layer-skipped copy of the target, ADED's corpus
 * datastore, the target's tokenizer): the `ExtraModels` a caller hands to `runAutoregressive`
 * (decode/autoregressive/extra-models.ts). api.ts supplies it for every generation; tools that
 * drive the loop themselves call `extraModelsFor(target)`. Strategies never load files.
 *
 * Models load lazily, on the first step that asks for them. A draft is compiled like the target:
 * into the same graph cache and with the same top-k as the target when the target is a compiled
 * checkpoint (read from its compiled graph), so that tests and tools that point the cache
 * somewhere else keep everything there. Draft models get 1 ORT thread by default (`threads`):
 * they are small, and PEARL runs them beside the target. Sequential drafters run in-process by
 * default (`in_process`: `compileModel(…, { inProcess: true })`, runtime/inprocess-model.ts).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OptionError } from './errors.js';
import { loadCheckpoint } from './model/checkpoint.js';
import { resolveModelDir } from './model/locate.js';
import { loadTokenizer } from './model/tokenizer.js';
import type { ModelConfig, ModelWeights } from './model/types.js';
import { OnnxBidirectionalModel } from './runtime/bidirectional-model.js';
import { OnnxCausalModel } from './runtime/causal-model.js';
import { compileModel, type CompileOptions, type CompiledModel } from './runtime/compile-model.js';
import type { BidirectionalModel, CausalModel } from './runtime/types.js';
import { DATASTORE_FILE, readDatastore } from './decode/autoregressive/aded-datastore.js';
import { TrigramBase } from './decode/autoregressive/aded-trigrams.js';
import { borrowed, type ExtraModels, type LayerSubsetRequest, type Loaded, type ModelRequest } from './decode/autoregressive/extra-models.js';

export interface ExtraModelOptions {
  /** text → token ids (no special tokens) under the caller's tokenizer; default: the tokenizer of the target's checkpoint */
  encode?: (text: string) => number[];
  /**
   * where loaded extra models are kept between generations; default: shared per target for the
   * target's lifetime (`releaseSharedModels`). A server passes a bounded cache of its own.
   */
  cache?: ExtraModelCache;
}

/**
 * Keeps loaded extra models between generations: `get` returns the model loaded under `key` for
 * `target` (loading it with `load` the first time); the `Loaded` it returns is the caller's
 * handle, whose `dispose` says the caller is done with it (the cache decides when to free it).
 */
export interface ExtraModelCache {
  get<M>(target: object, key: string, load: () => Promise<Loaded<M>>): Promise<Loaded<M>>;
}

/** The extra models of generations on `target`, loaded from disk and shared per target. */
export function extraModelsFor(target: CausalModel, options: ExtraModelOptions = {}): ExtraModels {
  let encode = options.encode;
  const cache = options.cache ?? SHARED_PER_TARGET;
  return {
    causal: async (r) => {
      const dir = resolveModelDir(r.model);
      const inProcess = r.inProcess ?? false;
      return cache.get(target, JSON.stringify(['causal', dir, r.threads, inProcess]), () => loadCausal(r, dir, target, inProcess));
    },
    bidirectional: async (r) => {
      const dir = resolveModelDir(r.model);
      return cache.get(target, JSON.stringify(['bidirectional', dir, r.threads]), () => loadBidirectional(r, dir, target));
    },
    layerSubset: async (r) => {
      const dir = resolveModelDir(r.checkpoint);
      const inProcess = r.inProcess ?? false;
      return cache.get(target, JSON.stringify(['layers', dir, r.layers, r.threads, inProcess]), () => loadLayerSubset(r, dir, target, inProcess));
    },
    targetCheckpointDir: () => targetCheckpointDir(target),
    trigramDatastore: async (owner, datastore) => {
      const file = datastoreFile(owner, datastore, target);
      return file ? loadBase(file, target.vocabSize) : null;
    },
    encode: (owner, why) => (encode ??= checkpointEncoder(owner, why, target)),
  };
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
  // the directory it was opened from: a cache entry is shared by every copy of a checkpoint, so
  // its meta.json names only the first one
  if (target.graph.checkpointDir) return target.graph.checkpointDir;
  const meta = join(dirname(target.graph.modelPath), 'meta.json');
  if (!existsSync(meta)) return null;
  try {
    const dir = (JSON.parse(readFileSync(meta, 'utf8')) as { checkpointDir?: unknown }).checkpointDir;
    return typeof dir === 'string' ? dir : null;
  } catch {
    return null; // an unreadable cache entry: the caller asks for the directory explicitly
  }
}

/** Text → token ids (no special tokens) from the tokenizer of the checkpoint the target was compiled from. */
function checkpointEncoder(owner: string, why: string, target: CausalModel): (text: string) => number[] {
  const dir = targetCheckpointDir(target);
  if (!dir) throw new OptionError(`${owner}: needs the tokenizer ${why}, and the target was not compiled from a checkpoint directory`);
  const tokenizer = loadTokenizer(dir);
  return (text) => tokenizer.encode(text, { addSpecialTokens: false });
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

const SHARED_PER_TARGET: ExtraModelCache = {
  get<M>(target: object, key: string, load: () => Promise<Loaded<M>>): Promise<Loaded<M>> {
    let byKey = SHARED.get(target);
    if (!byKey) SHARED.set(target, (byKey = new Map()));
    let loading = byKey.get(key) as Promise<Loaded<M>> | undefined;
    if (!loading) {
      loading = load();
      byKey.set(key, loading);
      const table = byKey;
      loading.catch(() => table.delete(key)); // a failed load is tried again next time
    }
    return loading.then((l) => borrowed(l.model, l.dir));
  },
};

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

function owned<M>(model: M & { dispose(): Promise<void> }, dir: string): Loaded<M> {
  return { model, dir, dispose: () => model.dispose() };
}

function checkVocab(r: { owner: string; what: string }, dir: string, vocab: number, target: CausalModel): void {
  if (vocab !== target.vocabSize) {
    throw new OptionError(`${r.owner}: the ${r.what} ${dir} has a vocabulary of ${vocab} tokens, the target ${target.vocabSize}; they must share a tokenizer`);
  }
}

/**
 * A causal draft / safe model sharing the target's vocabulary. `inProcess` runs its session on
 * this thread (runtime/inprocess-model.ts: cheaper for small drafters, and PEARL's draft overlaps
 * the worker-backed target from here); otherwise it gets its own worker like any compiled model.
 */
async function loadCausal(r: ModelRequest, dir: string, target: CausalModel, inProcess: boolean): Promise<Loaded<CausalModel>> {
  if (inProcess) {
    const ckpt = loadCheckpoint(dir);
    if (!ckpt.config.causal) throw new OptionError(`${r.owner}: the ${r.what} ${dir} is not an autoregressive model`);
    checkVocab(r, dir, ckpt.config.vocabSize, target);
    const model = await compileModel(ckpt, { ...compileOptionsLike(target, r.threads), inProcess: true });
    return owned<CausalModel>(model, dir);
  }
  const compiled = await compileModel(dir, { ...compileOptionsLike(target, r.threads), kind: 'causal' });
  return accepted(r, dir, compiled, (m) => m instanceof OnnxCausalModel, 'is not an autoregressive model', target);
}

/** A diffusion (bidirectional) drafter sharing the target's vocabulary. */
async function loadBidirectional(r: ModelRequest, dir: string, target: CausalModel): Promise<Loaded<BidirectionalModel>> {
  const compiled = await compileModel(dir, compileOptionsLike(target, r.threads));
  return accepted(r, dir, compiled, (m) => m instanceof OnnxBidirectionalModel, 'is not a diffusion model (DEER drafts with a diffusion LM)', target);
}

/**
 * A compiled extra model, if it is of the kind asked for (`isWanted`, else "the <what> <dir>
 * <notWanted>") and shares the target's vocabulary; refused models are disposed before the error.
 */
async function accepted<M extends CompiledModel>(
  r: ModelRequest,
  dir: string,
  compiled: CompiledModel,
  isWanted: (m: CompiledModel) => m is M,
  notWanted: string,
  target: CausalModel,
): Promise<Loaded<M>> {
  try {
    if (!isWanted(compiled)) throw new OptionError(`${r.owner}: the ${r.what} ${dir} ${notWanted}`);
    checkVocab(r, dir, compiled.vocabSize, target);
  } catch (e) {
    await compiled.dispose();
    throw e;
  }
  return owned(compiled, dir);
}

/**
 * The target with only `layers` kept, compiled as its own causal graph over the same weight
 * files (no copy): the layer-skip self-drafter.
 */
async function loadLayerSubset(r: LayerSubsetRequest, dir: string, target: CausalModel, inProcess: boolean): Promise<Loaded<CausalModel>> {
  const ckpt = loadCheckpoint(dir, { checkFinite: false });
  const config: ModelConfig = { ...ckpt.config, numLayers: r.layers.length };
  const weights: ModelWeights = { ...ckpt.weights, layers: r.layers.map((i) => ckpt.weights.layers[i]!) };
  if (inProcess) return owned<CausalModel>(await compileModel({ config, weights }, { ...compileOptionsLike(target, r.threads), inProcess: true }), dir);
  const compiled = await compileModel({ config, weights }, { ...compileOptionsLike(target, r.threads), kind: 'causal' });
  if (!(compiled instanceof OnnxCausalModel)) {
    await compiled.dispose();
    throw new OptionError(`${r.owner}: ${dir} did not compile as a causal model`);
  }
  return owned<CausalModel>(compiled, dir);
}

/** The datastore file `datastore` names for this target (`auto`, a file, a model directory): null for none. */
function datastoreFile(owner: string, datastore: string, target: CausalModel): string | null {
  if (datastore === 'auto') {
    const dir = targetCheckpointDir(target);
    const file = dir ? join(dir, DATASTORE_FILE) : null;
    return file && existsSync(file) ? file : null;
  }
  const file = existsSync(datastore) && statSync(datastore).isDirectory() ? join(datastore, DATASTORE_FILE) : datastore;
  if (!existsSync(file)) throw new OptionError(`${owner}: datastore ${file} not found (build one with \`paradec datastore --model DIR\`, or use datastore=none)`);
  return file;
}

/**
 * Loaded datastores, shared by every ADED instance of the process (a server creates one per
 * request): reading and indexing tiny-ar's takes ~30–100 ms. Keyed by file, modification time and
 * vocabulary; the few most recent are kept.
 */
const BASES = new Map<string, TrigramBase>();
const MAX_BASES = 4;

function loadBase(file: string, vocab: number): TrigramBase {
  const key = `${file}\u0000${statSync(file).mtimeMs}\u0000${vocab}`;
  let base = BASES.get(key);
  if (!base) {
    base = new TrigramBase(vocab, readDatastore(file, vocab));
    BASES.set(key, base);
    while (BASES.size > MAX_BASES) BASES.delete(BASES.keys().next().value!);
  }
  return base;
}
