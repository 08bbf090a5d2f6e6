/**
 * The contract between the autoregressive loop and its strategies (plain decoding and the
 * draft-and-verify methods). A strategy advances an `ArSession` by at least one token per call.
 */
import type { ParamSpecs, ParamValuesOf } from '../params.js';
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

/**
 * An autoregressive strategy's definition; `P` keeps its declared parameter specs, `S` what its
 * `create` gives (a strategy may expose more than `step`: anchored's `trace`, adadec's `pauses`).
 */
export type AutoregressiveStrategyDefinition<P extends ParamSpecs = ParamSpecs, S extends AutoregressiveStrategy = AutoregressiveStrategy> = StrategyDefinition<S, P>;

/** Declare an autoregressive strategy (strategy.ts `defineStrategy`); the created type is kept. */
export function defineAutoregressiveStrategy<const P extends ParamSpecs, X extends Omit<AutoregressiveStrategy, 'name'>>(
  spec: StrategySpec<AutoregressiveStrategy, P> & { create(params: ParamValuesOf<P>): X },
): AutoregressiveStrategyDefinition<P, AutoregressiveStrategy & X> {
  // defineStrategy adds the name to whatever `create` returns, so the extras stay (the cast says
  // so: its signature only speaks of the family's interface)
  return defineStrategy<AutoregressiveStrategy, P>('autoregressive', spec) as AutoregressiveStrategyDefinition<P, AutoregressiveStrategy & X>;
}
