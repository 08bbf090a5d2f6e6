/**
 * The autoregressive loop: run a strategy until end-of-text, a stop string, or max tokens.
 */
import type { CausalModel } from '../../runtime/types.js';
import { InputError } from '../../errors.js';
import type { RandomSource } from '../diffusion/types.js';
import type { ExtraModels } from './extra-models.js';
import { ArSession } from './session.js';
import type { SamplingOptions } from './sampling.js';
import type { AutoregressiveStrategy } from './types.js';
import { chargingWork } from './work.js';

export interface AutoregressiveOptions {
  maxTokens: number;
  sampling: SamplingOptions;
  rng: RandomSource;
  eosTokenIds: readonly number[];
  signal?: AbortSignal;
  /**
   * the extra models strategies may ask for (draft models, drafters, the tokenizer's token text),
   * loaded by the caller: `extraModelsFor(model)` (src/extra-model-loader.ts) reads them from disk;
   * without it, strategies that need one stop on their first step saying which
   */
  models?: ExtraModels;
  /**
   * leave the strategy alive at the end (the caller reuses it for more prompts and disposes it
   * itself); by default the loop disposes it when the generation ends, however it ends
   */
  keepStrategy?: boolean;
}

export interface ArEvent {
  tokens: number[];
  /** target forward passes so far */
  nfe: number;
  drafted: number;
  accepted: number;
  /** so far: draft-model forward passes, and the positions fed to the target and to the draft models */
  draftNfe: number;
  work: number;
  draftWork: number;
}

export interface ArResult {
  generated: number[];
  nfe: number;
  drafted: number;
  accepted: number;
  finishReason: 'stop' | 'length';
  /** target forwards that verified drafts (draft-and-verify strategies) */
  verifies?: number;
  /** forward passes of the strategy's draft models, counted apart from `nfe` */
  draftNfe?: number;
  /** positions fed to the target over all its forwards (rows × tokens; work.ts) */
  work: number;
  /** positions fed to the strategy's draft models (0 without one) */
  draftWork: number;
}

export async function* runAutoregressive(
  model: CausalModel,
  prompt: readonly number[],
  strategy: AutoregressiveStrategy,
  options: AutoregressiveOptions,
): AsyncGenerator<ArEvent, ArResult> {
  if (prompt.length === 0) throw new InputError('the prompt is empty (an autoregressive model needs at least one token)');
  if (prompt.length >= model.maxPositions) {
    throw new InputError(`prompt is ${prompt.length} tokens, the model's context is ${model.maxPositions}`);
  }
  const maxTokens = Math.min(options.maxTokens, model.maxPositions - prompt.length);
  const session = new ArSession(model, prompt, options.sampling, options.rng);
  session.maxLength = prompt.length + maxTokens;
  if (options.models) session.models = options.models;
  let drafted = 0;
  let accepted = 0;
  let finishReason: 'stop' | 'length' = 'length';
  try {
    while (session.generated.length < maxTokens) {
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
      const before = session.generated.length;
      const step = await chargingWork(session.work, () => strategy.step(session));
      drafted += step.drafted;
      accepted += step.accepted;
      let fresh = session.generated.slice(before);
      const eosAt = fresh.findIndex((t) => options.eosTokenIds.includes(t));
      if (eosAt >= 0) {
        fresh = fresh.slice(0, eosAt + 1);
        finishReason = 'stop';
      }
      if (before + fresh.length > maxTokens) fresh = fresh.slice(0, maxTokens - before);
      session.tokens.length = session.promptLength + before + fresh.length;
      yield { tokens: fresh, nfe: session.nfe, drafted: step.drafted, accepted: step.accepted, draftNfe: session.stats.draftForwards, work: session.work.target, draftWork: session.work.draft };
      if (finishReason === 'stop') break;
    }
  } finally {
    // also when the consumer stops early (stop strings) or a step throws: draft models are released
    if (!options.keepStrategy) await strategy.dispose?.();
    session.close();
  }
  return {
    generated: session.generated,
    nfe: session.nfe,
    drafted,
    accepted,
    finishReason,
    verifies: session.stats.verifies,
    draftNfe: session.stats.draftForwards,
    work: session.work.target,
    draftWork: session.work.draft,
  };
}
