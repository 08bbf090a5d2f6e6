/**
 * The models a server offers: each loaded once, by name, and shared by every request for it
 * (strategies are created per request; a model's runtime keeps no per-generation state).
 *
 * Only configured names are served: a request cannot make the server read a directory of its
 * choosing. The first model is the default for requests that name none.
 */
import { defaultGenLength, loadModel, type LoadOptions, type ParadecModel } from '../api.js';
import { describeStrategies } from '../decode/describe.js';
import { batchedBidirectional, type BatchedModel } from '../runtime/batched-bidirectional.js';
import { batchedCausal, canBatchCausal } from '../runtime/batched-causal.js';
import type { Coalescer } from '../runtime/coalescer.js';
import type { BidirectionalModel, CausalModel } from '../runtime/types.js';
import { HttpError } from './http-error.js';

export type ModelSpec = { name: string; dir: string } | { name: string; model: ParadecModel };

export interface ModelInfo {
  id: string;
  object: 'model';
  created: number;
  owned_by: 'paradec';
  paradec: {
    family: 'diffusion' | 'autoregressive';
    architecture: string;
    default_strategy: string;
    strategies: string[];
    /** diffusion: the canvas length used when a request gives neither gen_length nor max_tokens */
    default_gen_length: number | null;
    max_positions: number;
    /** 'line': the model reads `<prompt>\n` (paradec's task models); 'text': the prompt as given */
    prompt_format: 'line' | 'text';
  };
}

/** The canvas length api.ts uses when a request gives neither gen_length nor max_tokens. */
export { defaultGenLength };

/** A served model as generations use it: its forwards batched with the other generations'. */
export interface ServedModel {
  name: string;
  model: ParadecModel;
  /** null when the model's forwards cannot be batched (a scripted or foreign runtime) */
  batcher: Coalescer<unknown, unknown> | null;
}

export interface BatchingOptions {
  /** batch the forwards of concurrent generations (default true) */
  enabled?: boolean;
  /** rows per batched forward at most */
  maxRows?: number;
  /** longest wait for the other generations' calls (default 2 ms) */
  maxWaitMs?: number;
}

export class ModelPool {
  private readonly models = new Map<string, ServedModel>();
  private readonly owned = new Set<string>();
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(private readonly specs: readonly ModelSpec[], private readonly loadOptions: LoadOptions = {}, private readonly batching: BatchingOptions = {}) {
    if (specs.length === 0) throw new RangeError('a server needs at least one model');
    const names = new Set<string>();
    for (const s of specs) {
      if (names.has(s.name)) throw new RangeError(`model name '${s.name}' is given twice`);
      names.add(s.name);
    }
  }

  /** Load every model (once). */
  async load(): Promise<void> {
    for (const spec of this.specs) {
      if (this.models.has(spec.name)) continue;
      let model: ParadecModel;
      if ('model' in spec) model = spec.model;
      else {
        model = await loadModel(spec.dir, this.loadOptions);
        this.owned.add(spec.name);
      }
      this.models.set(spec.name, this.serving(spec.name, model));
    }
  }

  /** The model with its runtime's forwards batched across generations, where the runtime allows. */
  private serving(name: string, model: ParadecModel): ServedModel {
    if (this.batching.enabled === false) return { name, model, batcher: null };
    const options = { ...(this.batching.maxRows !== undefined ? { maxRows: this.batching.maxRows } : {}), ...(this.batching.maxWaitMs !== undefined ? { maxWaitMs: this.batching.maxWaitMs } : {}) };
    const runtime = model.runtime;
    let batched: BatchedModel<BidirectionalModel | CausalModel> | null = null;
    if (runtime.kind === 'bidirectional') batched = batchedBidirectional(runtime, options);
    else if (canBatchCausal(runtime)) batched = batchedCausal(runtime, options);
    if (!batched) return { name, model, batcher: null };
    return { name, model: { ...model, runtime: batched.model, dispose: () => model.dispose() }, batcher: batched.coalescer };
  }

  get names(): string[] {
    return this.specs.map((s) => s.name);
  }

  /** continuous batching's counts per model (models whose forwards are batched) */
  batchingStats(): { model: string; batches: number; calls: number }[] {
    return [...this.models.values()].flatMap((m) => (m.batcher ? [{ model: m.name, batches: m.batcher.stats.batches, calls: m.batcher.stats.calls }] : []));
  }

  /** name → checkpoint directory of the models served from a directory (what requests may name) */
  directories(): [string, string][] {
    return this.specs.flatMap((s) => ('dir' in s ? [[s.name, s.dir] as [string, string]] : []));
  }

  /** The model for a request's `model` field (default: the first one); 404 for an unknown name. */
  get(name: string | undefined): ServedModel {
    const key = name ?? this.specs[0]!.name;
    const served = this.models.get(key);
    if (!served) {
      throw new HttpError(404, `model '${key}' not found (models: ${this.names.join(', ')})`, { param: 'model', code: 'model_not_found' });
    }
    return served;
  }

  info(): ModelInfo[] {
    return this.names.map((name) => {
      const { model } = this.get(name);
      const diffusion = model.family === 'diffusion';
      return {
        id: name,
        object: 'model',
        created: this.created,
        owned_by: 'paradec',
        paradec: {
          family: model.family,
          architecture: model.config.architecture,
          default_strategy: diffusion ? 'confidence' : 'greedy',
          strategies: describeStrategies(model.family).map((s) => s.name),
          default_gen_length: diffusion ? defaultGenLength(model) : null,
          max_positions: model.config.maxPositions,
          prompt_format: model.linePrompt ? 'line' : 'text',
        },
      };
    });
  }

  /** Dispose the models this pool loaded itself. */
  async dispose(): Promise<void> {
    for (const name of this.owned) await this.models.get(name)?.model.dispose();
    this.models.clear();
    this.owned.clear();
  }
}
