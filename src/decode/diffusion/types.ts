/**
 * The contract between the denoising loop (loop.ts) and the decoding strategies.
 *
 * The loop owns the canvas, the forward passes, the block schedule and the bookkeeping; a
 * strategy sees one row's canvas and the decode head's predictions and decides which masked
 * positions to commit (and, for self-correcting methods, which committed ones to remask).
 * Everything that differs between methods lives in the strategy's own file.
 */
import type { DecodeHeadOutput } from '../../runtime/types.js';
import type { ParamSpecs } from '../params.js';
import { defineStrategy, type StrategyDefinition, type StrategySpec } from '../strategy.js';

export type { StrategyDefinition } from '../strategy.js';

export interface RandomSource {
  /** uniform in [0, 1) */
  float(): number;
}

/** One row's view of the canvas during decoding. Positions are absolute canvas indices. */
export interface RowView {
  readonly row: number;
  /** prompt + generation canvas of this row (live view: the loop updates it) */
  readonly canvas: Int32Array;
  readonly promptLength: number;
  readonly genLength: number;
  readonly maskTokenId: number;
  readonly eosTokenIds: readonly number[];
  /** the tokenizer's newline token ids, when the caller knows them (AdaBlock's default delimiter) */
  readonly newlineTokenIds: readonly number[];
  /** current semi-autoregressive block, [blockStart, blockEnd) */
  readonly blockStart: number;
  readonly blockEnd: number;
  /** index of the block, and step index within it */
  readonly blockIndex: number;
  readonly stepInBlock: number;
  /** forward passes this row has taken part in so far (including the current one) */
  readonly step: number;
  /** denoising steps of the whole base schedule (the `steps` option: steps per block × blocks) */
  readonly totalSteps: number;
  /**
   * how many tokens the base schedule (LLaDA even split / Dream timesteps) would commit now; a
   * strategy that reads it in `decide` follows the base schedule at that step (the loop notices
   * the read: the result's schedule report)
   */
  readonly quota: number;
  /** step at which each position was committed; -1 for masked and prompt positions */
  readonly committedAt: Int32Array;
  /** masked positions inside the current block, ascending */
  readonly candidates: readonly number[];
  /** all masked positions of the generation region, ascending */
  readonly masked: readonly number[];
}

/** Predictions of the current forward pass for one row. */
export interface Predictions {
  /** [canvasLength] the token each position would take (argmax, or Gumbel-max sample when temperature > 0) */
  readonly tokens: Int32Array;
  /** [canvasLength] softmax probability (temperature 1) of that token */
  readonly confidence: Float32Array;
  /** the raw head for this row (positions = canvas positions) */
  readonly head: DecodeHeadOutput;
  topkIds(pos: number): Int32Array;
  topkProbs(pos: number): Float32Array;
  entropy(pos: number): number;
  /** full logits of a position; only when the strategy declared `needsLogits` (or temperature > 0) */
  logits(pos: number): Float32Array;
  /** the loop's sampling temperature (absent or 0 = argmax); at > 0 the head carries full logits */
  readonly temperature?: number;
}

export interface Decision {
  /** positions to commit (must be masked, inside the generation region) */
  commit: number[];
  /** tokens for those positions; defaults to `predictions.tokens[pos]` */
  tokens?: number[];
  /** committed generation positions to turn back into masks (self-correction) */
  remask?: number[];
}

/** Services the loop offers strategies that need more than one forward per step. */
export interface LoopServices {
  readonly rng: RandomSource;
  /**
   * Run one batched forward pass over several candidate canvases of this row (e.g. FreeDave's
   * drafts). Counts as one forward pass (NFE) for the row, and every candidate canvas's positions
   * count as the row's work.
   */
  forwardCandidates(row: RowView, canvases: Int32Array[]): Promise<DecodeHeadOutput>;
}

export interface DiffusionStrategy {
  readonly name: string;
  /** the strategy needs full logits each step (costly: avoid unless the method requires it) */
  readonly needsLogits?: boolean;
  /** called once per row before its first step */
  begin?(row: RowView): void;
  /** called when a new block starts, with that step's predictions: may move the block's end (AdaBlock) */
  chooseBlockEnd?(row: RowView, predictions: Predictions): number;
  /** one step's decision */
  decide(row: RowView, predictions: Predictions, services: LoopServices): Decision | Promise<Decision>;
  /**
   * called when the canvas is full, with the predictions of a forward over the full canvas;
   * returning positions remasks them and decoding continues (self-edit)
   */
  review?(row: RowView, predictions: Predictions, services: LoopServices): number[] | Promise<number[]>;
}

/** A diffusion strategy's definition; `P` keeps its declared parameter specs. */
export type DiffusionStrategyDefinition<P extends ParamSpecs = ParamSpecs> = StrategyDefinition<DiffusionStrategy, P>;

/** Declare a diffusion strategy (strategy.ts `defineStrategy`). */
export function defineDiffusionStrategy<const P extends ParamSpecs>(spec: StrategySpec<DiffusionStrategy, P>): DiffusionStrategyDefinition<P> {
  return defineStrategy('diffusion', spec);
}
