/**
 * The denoising loop shared by every diffusion strategy (LLaDA's `generate.py` skeleton).
 *
 *   canvas = [prompt | MASK × genLength]
 *   for each semi-autoregressive block:
 *     repeat: forward the canvas → decode-head predictions → strategy decides what to commit
 *
 * The loop owns forward passes (it counts them, and the positions each one computes: the work),
 * the block schedule, temperature sampling, classifier-free guidance and the progress guarantee;
 * strategies only decide. Rows of a batch are right-padded so every row keeps the positions it
 * would have alone (batched output equals unbatched output), and each row has its own block
 * positions.
 *
 * The pieces, in the order a step uses them: row-state.ts (one row's canvas, block, schedule and
 * counts), forward.ts (the batched forward with classifier-free guidance and the KV cache),
 * predictions.ts (the token and confidence of every position), then the strategy's decision or
 * review, applied below (`decisionStep`, `reviewStep`).
 */
import { supportsKvCache, type BidirectionalModel } from '../../runtime/types.js';
import { InputError, OptionError } from '../../errors.js';
import { DiffusionKvCache, resolveCacheOptions, type DiffusionCacheOptions } from './cache.js';
import { CanvasForward } from './forward.js';
import { predictionsFor, type Sampling } from './predictions.js';
import { RowState, type RowPlan, type DiffusionRowResult } from './row-state.js';
import type { Decision, DiffusionStrategy, LoopServices, Predictions, RandomSource } from './types.js';

export interface DiffusionOptions {
  genLength: number;
  /** total denoising steps of the base schedule (default: genLength, one token per step) */
  steps?: number;
  /** semi-autoregressive block length (default: genLength, a single block) */
  blockLength?: number;
  /** Gumbel-max sampling temperature (0 = argmax) */
  temperature?: number;
  /** classifier-free guidance scale (LLaDA's cfg_scale; 0 = off) */
  cfgScale?: number;
  /** base schedule: 'llada' even split or 'dream' timesteps (default from the model) */
  schedule?: 'llada' | 'dream';
  /**
   * End-of-text fill (default on): once an end-of-text token is committed with no mask before it,
   * fill the masks after it with end-of-text in the same step, for free — the text (cut at the
   * first end-of-text) cannot change any more, so the forwards that would fill them change
   * nothing that is read. With it, `steps` is an upper bound on a base-schedule run's forwards;
   * without it, a base-schedule run takes exactly `steps` forwards (LLaDA's `generate.py`,
   * llama.cpp's diffusion example). The result's `schedule` says whether it was on.
   */
  eosFill?: boolean;
  /**
   * KV caching (cache.ts, docs/caching.md): mode 'none' (default: every step forwards the whole
   * canvas), 'prefix', 'dual', 'delayed', 'window' or 'vicinity', and `refresh: N` for a full
   * refresh every N forwards of a row (1 = every step, exactly the uncached result).
   */
  cache?: DiffusionCacheOptions;
  /** the tokenizer's newline token ids, for strategies that cut at lines (AdaBlock); default none */
  newlineTokenIds?: readonly number[];
  /** the random source of temperature sampling and of the strategies (`services.rng`) */
  rng: RandomSource;
  signal?: AbortSignal;
}


export type { DiffusionRowResult };

export interface StepEvent {
  row: number;
  /** forward passes this row has taken so far */
  nfe: number;
  committed: { position: number; token: number }[];
  remasked: number[];
  /** the row's canvas after this step (a live view: copy it to keep it) */
  canvas: Int32Array;
  promptLength: number;
}

export function validateDiffusionOptions(options: { genLength: number; steps?: number; blockLength?: number }): {
  genLength: number;
  steps: number;
  blockLength: number;
} {
  const genLength = options.genLength;
  const blockLength = options.blockLength ?? genLength;
  const steps = options.steps ?? genLength;
  for (const [name, v] of [['gen_length', genLength], ['block_length', blockLength], ['steps', steps]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new OptionError(`${name} must be a positive integer (got ${v})`);
  }
  if (genLength % blockLength !== 0) {
    throw new OptionError(`gen_length ${genLength} is not a multiple of block_length ${blockLength}`);
  }
  const blocks = genLength / blockLength;
  if (steps % blocks !== 0) {
    throw new OptionError(`steps ${steps} is not divisible by the number of blocks ${blocks} (gen_length / block_length)`);
  }
  return { genLength, steps, blockLength };
}

/** Decode `prompts` (token ids) with `strategy`, yielding one event per row per step. */
export async function* runDiffusion(
  model: BidirectionalModel,
  prompts: readonly (readonly number[])[],
  strategy: DiffusionStrategy,
  eosTokenIds: readonly number[],
  options: DiffusionOptions,
): AsyncGenerator<StepEvent, DiffusionRowResult[]> {
  const cacheMode = resolveCacheOptions(options.cache).mode;
  let kvCache: DiffusionKvCache | undefined;
  if (cacheMode !== 'none') {
    if (!supportsKvCache(model)) throw new OptionError(`cache '${cacheMode}' needs a model that can return and reuse keys/values (a compiled ONNX model)`);
    kvCache = new DiffusionKvCache(model, options.cache!);
  }
  try {
    return yield* denoise(model, prompts, strategy, eosTokenIds, options, kvCache);
  } finally {
    kvCache?.dispose(); // also when the caller stops early
  }
}

/**
 * LLaDA's `generate`: every row starts as [prompt | MASK × genLength]; each round forwards the
 * canvases of the rows still decoding, and each row then takes one step — a strategy decision
 * while it has masks, a review (self-correction) once it is full.
 */
async function* denoise(
  model: BidirectionalModel,
  prompts: readonly (readonly number[])[],
  strategy: DiffusionStrategy,
  eosTokenIds: readonly number[],
  options: DiffusionOptions,
  kvCache: DiffusionKvCache | undefined,
): AsyncGenerator<StepEvent, DiffusionRowResult[]> {
  const { genLength, steps, blockLength } = validateDiffusionOptions(options);
  const temperature = options.temperature ?? 0;
  const cfgScale = options.cfgScale ?? 0;
  const eosFill = options.eosFill ?? true;
  const needLogits = temperature > 0 || cfgScale > 0 || strategy.needsLogits === true;
  if (prompts.length === 0) throw new InputError('no prompts given');

  const plan: RowPlan = {
    genLength,
    blockLength,
    stepsPerBlock: steps / (genLength / blockLength),
    schedule: options.schedule ?? 'llada',
    maskTokenId: model.maskTokenId,
    eosTokenIds,
    newlineTokenIds: options.newlineTokenIds ?? [],
    eosFill,
    maxStepsPerRow: 4 * genLength + 16, // hard bound on a row's steps: no strategy loops forever
  };
  const rows = prompts.map((prompt, i) => {
    const total = prompt.length + genLength;
    if (total > model.maxPositions) {
      throw new InputError(
        `prompt ${i} is ${prompt.length} tokens; with gen_length ${genLength} that is ${total} positions, over the model's context of ${model.maxPositions}`,
      );
    }
    return new RowState(i, prompt, plan);
  });
  const forward = new CanvasForward(model, kvCache, { cfgScale, needLogits, rowCount: rows.length, signal: options.signal });
  const sampling: Sampling = { temperature, rng: options.rng, maskTokenId: model.maskTokenId, strategyName: strategy.name };
  const services = loopServices(rows, forward, options.rng);
  rows.forEach((r) => strategy.begin?.(r.view()));

  while (rows.some((r) => !r.done)) {
    const active = rows.filter((r) => !r.done);
    const { head, full, computed } = await forward.run(
      active.map((r) => r.canvas),
      active.map((r) => r.promptLength),
      // a full canvas is forwarded only for a review, which reads every position's prediction
      active.map((r) => ({ id: r.index, focusStart: r.blockStart, focusEnd: r.blockEnd, wholeCanvas: r.isFull() })),
    );
    for (let b = 0; b < active.length; b++) {
      const r = active[b]!;
      r.nfe += 1;
      r.work += computed[b]!;
      if (full[b]) r.fullForwards += 1;
      const predictions = predictionsFor(head, b, r.canvas, sampling);
      // the canvas is full: only a reviewing strategy (self-edit) gets here
      const { committed, remasked } = r.isFull()
        ? await reviewStep(r, strategy, predictions, services)
        : await decisionStep(r, strategy, predictions, services, eosFill);
      yield { row: r.index, nfe: r.nfe, committed, remasked, canvas: r.canvas, promptLength: r.promptLength };
    }
  }
  return rows.map((r) => r.result());
}

/** What the loop offers strategies: the run's random source and forwards of candidate canvases. */
function loopServices(rows: readonly RowState[], forward: CanvasForward, rng: RandomSource): LoopServices {
  return {
    rng,
    forwardCandidates: async (row, canvases) => {
      const r = rows[row.row]!;
      r.nfe += 1;
      const cacheRows = canvases.map(() => ({ id: row.row, focusStart: r.blockStart, focusEnd: r.blockEnd }));
      const { head, full, computed } = await forward.run(canvases, canvases.map(() => r.promptLength), cacheRows, true);
      // one sequential forward (one NFE), and every candidate canvas's positions of work
      for (const c of computed) r.work += c;
      if (full.every((f) => f)) r.fullForwards += 1;
      return head;
    },
  };
}

interface StepChanges {
  committed: { position: number; token: number }[];
  remasked: number[];
}

/**
 * One step of a row that still has masks: at a block's first step the strategy may move the
 * block's end; then it decides, and the loop commits (with the progress guarantee), remasks,
 * fills after a final end-of-text and moves past full blocks.
 */
async function decisionStep(r: RowState, strategy: DiffusionStrategy, predictions: Predictions, services: LoopServices, eosFill: boolean): Promise<StepChanges> {
  if (r.blockFresh && strategy.chooseBlockEnd) {
    r.setBlockEnd(strategy.chooseBlockEnd(r.view(), predictions));
    r.advance();
  }
  r.blockFresh = false;
  const quota = r.quota();
  let followsSchedule = false;
  const view = r.view(() => (followsSchedule = true));
  let decision: Decision = await strategy.decide(view, predictions, services);
  const positions = decision.commit.filter((pos) => r.isMaskedAt(pos));
  const progressStalled = positions.length === 0 && (decision.remask?.length ?? 0) === 0;
  const guaranteed = progressStalled && (quota > 0 || r.atLastScheduledStep() || r.atStepBound());
  if (guaranteed) {
    // Progress guarantee: a strategy that commits nothing when the schedule expects tokens
    // gets the most confident masked position of the block committed for it.
    let best = view.candidates[0] ?? view.masked[0]!;
    for (const pos of view.candidates) if (predictions.confidence[pos]! > predictions.confidence[best]!) best = pos;
    decision = { commit: [best] };
    positions.push(best);
  }
  countStep(r, followsSchedule && !guaranteed && positions.length === quota, guaranteed, positions.length);
  const committed = commitDecision(r, decision, positions, predictions);
  // past the step bound, remasking is ignored: commits alone always finish the canvas
  const remasked = r.atStepBound() ? [] : remaskAll(r, (decision.remask ?? []).filter((pos) => !positions.includes(pos)));
  if (eosFill) {
    const filled = r.fillAfterEos();
    r.stepCounts.eosFilled += filled.length;
    committed.push(...filled);
  }
  r.stepInBlock += 1;
  if (!r.advance() && strategy.review === undefined) r.done = true;
  return { committed, remasked };
}

/**
 * The schedule report's counts for one decision step: whether its count came from the base
 * schedule (the strategy read the quota and committed exactly that), whether the progress
 * guarantee committed for the strategy, and whether it committed a single token.
 */
function countStep(r: RowState, fromSchedule: boolean, guaranteed: boolean, committed: number): void {
  const c = r.stepCounts;
  if (fromSchedule) c.base += 1;
  else c.strategy += 1;
  if (guaranteed) c.guarantee += 1;
  if (committed === 1) c.oneToken += 1;
}

/** Commit `positions` (the decision's valid ones), with the decision's tokens where it gave them. */
function commitDecision(r: RowState, decision: Decision, positions: readonly number[], predictions: Predictions): StepChanges['committed'] {
  const tokenFor = new Map<number, number>();
  decision.commit.forEach((pos, j) => tokenFor.set(pos, decision.tokens?.[j] ?? predictions.tokens[pos]!));
  const committed: StepChanges['committed'] = [];
  for (const pos of positions) {
    const chosen = tokenFor.get(pos) ?? predictions.tokens[pos]!;
    // never commit the mask itself: the position would stay masked and the step commit nothing
    // (LLaDA's generate.py does not guard this; see helpers.ts `realTokenRank`)
    const token = chosen === r.maskTokenId ? predictions.tokens[pos]! : chosen;
    r.commit(pos, token);
    committed.push({ position: pos, token });
  }
  return committed;
}

/** Turn the committed generation positions among `positions` back into masks; returns those. */
function remaskAll(r: RowState, positions: readonly number[]): number[] {
  const remasked: number[] = [];
  for (const pos of positions) {
    if (!r.isCommittedAt(pos)) continue;
    r.remask(pos);
    remasked.push(pos);
  }
  return remasked;
}

/**
 * A full canvas's step: the strategy reviews it (within the step bound) and may remask positions;
 * decoding then restarts from the first block with masks. A review that remasks nothing ends the row.
 */
async function reviewStep(r: RowState, strategy: DiffusionStrategy, predictions: Predictions, services: LoopServices): Promise<StepChanges> {
  const positions = strategy.review && !r.atStepBound() ? await strategy.review(r.view(), predictions, services) : [];
  const remasked = remaskAll(r, positions);
  if (remasked.length === 0) r.done = true;
  else {
    r.startBlock(0, r.promptLength);
    r.advance();
  }
  return { committed: [], remasked };
}
