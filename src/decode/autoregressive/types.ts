/**
 * The contract between the autoregressive loop and its strategies (plain decoding and the
 * draft-and-verify methods). A strategy advances an `ArSession` by at least one token per call.
 */
import type { ParamSpecs } from '../params.js';
import { defineStrategy, type StrategyDefinition, type StrategySpec } from '../strategy.js';
import type { ArSession } from './session.js';

export interface ArStepResult {
  /** tokens committed by this step (≥ 1) */
  tokens: number[];
  /** draft tokens proposed and accepted in this step (0 for plain decoding) */
  drafted: number;
  accepted: number;
}

export interface AutoregressiveStrategy {
  readonly name: string;
  step(session: ArSession): Promise<ArStepResult>;
  /** release draft models, workers, … */
  dispose?(): Promise<void>;
}

/** An autoregressive strategy's definition; `P` keeps its declared parameter specs. */
export type AutoregressiveStrategyDefinition<P extends ParamSpecs = ParamSpecs> = StrategyDefinition<AutoregressiveStrategy, P>;

/** Declare an autoregressive strategy (strategy.ts `defineStrategy`). */
export function defineAutoregressiveStrategy<const P extends ParamSpecs>(spec: StrategySpec<AutoregressiveStrategy, P>): AutoregressiveStrategyDefinition<P> {
  return defineStrategy('autoregressive', spec);
}
