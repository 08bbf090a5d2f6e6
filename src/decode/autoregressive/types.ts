/**
 * The contract between the autoregressive loop and its strategies (plain decoding and the
 * draft-and-verify methods). A strategy advances an `ArSession` by at least one token per call.
 */
import type { StrategyDefinition } from '../diffusion/types.js';
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

export type AutoregressiveStrategyDefinition = StrategyDefinition<AutoregressiveStrategy>;
