/**
 * What a user sees of each strategy: its name, family, one-line summary, paper and declared
 * parameters (with the paper's defaults), in registry order. `paradec strategies` (text, JSON,
 * markdown for the docs) and the server's `GET /v1/strategies` all print this one list, so the
 * listings cannot disagree with each other or with the registry.
 */
import type { ParamSpecs } from './params.js';
import { allStrategies } from './registry.js';
import type { StrategyFamily } from './strategy.js';

export interface StrategyDescription {
  readonly name: string;
  readonly family: StrategyFamily;
  readonly summary: string;
  readonly paper: string;
  readonly params: ParamSpecs;
}

/** Every strategy (or those of one family), as listed to users; the definitions' `create` is left out. */
export function describeStrategies(family?: StrategyFamily): StrategyDescription[] {
  return allStrategies()
    .filter((s) => family === undefined || s.family === family)
    .map((s) => ({ name: s.name, family: s.family, summary: s.summary, paper: s.paper, params: s.params }));
}
