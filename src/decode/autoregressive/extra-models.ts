/**
 * The extra models some strategies need besides the target — a draft LM, a diffusion drafter, a
 * "safe" model, the target with layers skipped, ADED's corpus datastore, the tokenizer's encoder
 * — and which they get from their caller, never from disk themselves: the caller hands an
 * `ExtraModels` to `runAutoregressive` (`options.models`), strategies reach it as
 * `session.models`. (As in Hugging Face transformers, where `generate` receives the
 * `assistant_model` and its candidate generators never look up files.)
 *
 * The implementation that reads disk — compiled like the target, shared per target, vocabulary
 * checks — is on the caller's side: src/extra-model-loader.ts (`extraModelsFor`). Tests give
 * scripted models through this interface.
 *
 * Strategies are created synchronously, so they ask for their models on their first step
 * (`Lazy`), and release what they were given in their `dispose`.
 */
import { OptionError } from '../../errors.js';
import type { BidirectionalModel, CausalModel } from '../../runtime/types.js';
import type { TrigramBase } from './aded-trigrams.js';

/** What a strategy holds of a model it was given: `dispose` lets go of it. */
export interface Loaded<M> {
  readonly model: M;
  /** where it came from (a checkpoint directory; tests write what they like) */
  readonly dir: string;
  dispose(): Promise<void>;
}

/** Which model a strategy asks for, and for what: errors name the strategy and the model. */
export interface ModelRequest {
  /** the strategy asking (`speculative`) */
  owner: string;
  /** what the model is to it (`draft model`, `safe model`, `drafter`) */
  what: string;
  /** a checkpoint directory or the name of a built-in model (the strategy's parameter) */
  model: string;
  /** ORT threads of the model (0 = ORT default) */
  threads: number;
  /** run it on the calling thread instead of its own worker (causal models) */
  inProcess?: boolean;
}

/** The target with only some of its layers (the layer-skip self-drafter). */
export interface LayerSubsetRequest {
  owner: string;
  /** the target's checkpoint: a directory or a built-in model name */
  checkpoint: string;
  /** the layers kept, in order */
  layers: readonly number[];
  threads: number;
  inProcess?: boolean;
}

export interface ExtraModels {
  /** a causal model sharing the target's vocabulary (draft LM, safe model) */
  causal(request: ModelRequest): Promise<Loaded<CausalModel>>;
  /** a diffusion (bidirectional) model sharing the target's vocabulary (DEER's drafter) */
  bidirectional(request: ModelRequest): Promise<Loaded<BidirectionalModel>>;
  /** the target's checkpoint with only `layers` kept, compiled as its own causal model */
  layerSubset(request: LayerSubsetRequest): Promise<Loaded<CausalModel>>;
  /** the checkpoint directory the target was built from, null when the caller cannot tell */
  targetCheckpointDir(): string | null;
  /**
   * ADED's corpus tri-gram datastore: `auto` (the one next to the target's weights, if there is
   * one), or a file / model directory; null when there is none
   */
  trigramDatastore(owner: string, datastore: string): Promise<TrigramBase | null>;
  /**
   * text → token ids under the target's tokenizer, no special tokens added (HF
   * `tokenizer.encode(text, add_special_tokens=False)`); `why` says what the strategy needs it for
   */
  encode(owner: string, why: string): (text: string) => number[];
}

/**
 * What a session has when its caller gave no models: strategies that need none run, the others
 * stop on their first step saying what they needed.
 */
export const NO_EXTRA_MODELS: ExtraModels = {
  causal: (r) => Promise.reject(notGiven(r.owner, `its ${r.what} (${r.model})`)),
  bidirectional: (r) => Promise.reject(notGiven(r.owner, `its ${r.what} (${r.model})`)),
  layerSubset: (r) => Promise.reject(notGiven(r.owner, `the target's layers ${r.layers.join(', ')} as a drafter`)),
  targetCheckpointDir: () => null,
  trigramDatastore: (owner, datastore) => (datastore === 'auto' ? Promise.resolve(null) : Promise.reject(notGiven(owner, `the datastore ${datastore}`))),
  encode: (owner, why) => {
    throw notGiven(owner, `the tokenizer ${why}`);
  },
};

function notGiven(owner: string, what: string): OptionError {
  return new OptionError(`${owner}: needs ${what}, and the caller gave runAutoregressive no models to load it from (options.models: extraModelsFor(target))`);
}

/**
 * A lazily obtained resource: the first `get` obtains it (later calls share that), `dispose`
 * releases it if it was obtained. Strategies are created synchronously, so their models come
 * here on the first step.
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

/** A model the provider keeps owning (shared, or given by a test): the strategy's `dispose` leaves it alone. */
export function borrowed<M>(model: M, dir = '(given)'): Loaded<M> {
  return { model, dir, dispose: async () => {} };
}
