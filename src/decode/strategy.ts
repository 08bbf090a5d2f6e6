/**
 * What every strategy file exports: a definition (name, one-line summary, the paper, its
 * parameters with the paper's defaults) and `create`, which turns resolved parameter values
 * into the strategy object the family's loop drives.
 *
 * `defineStrategy` is how a strategy file declares itself: the parameter values `create`
 * receives are typed from the declared specs (no casts), and the name and family are written
 * once, in the definition — the created strategy gets its name from there.
 */
import type { ParamSpecs, ParamValuesOf } from './params.js';

export type StrategyFamily = 'diffusion' | 'autoregressive';

export interface StrategyDefinition<S, P extends ParamSpecs = ParamSpecs> {
  readonly name: string;
  readonly family: StrategyFamily;
  /** one line: what the rule does */
  readonly summary: string;
  /** the paper it implements (authors, year, arXiv id) */
  readonly paper: string;
  readonly params: P;
  // a method, not a property: a definition with specific specs is still a definition of the
  // family (the registry lists them together; values come from `resolveParams`)
  create(params: ParamValuesOf<P>): S;
}

/** What a strategy file writes: the definition without its family, `create` without the name. */
export interface StrategySpec<S extends { readonly name: string }, P extends ParamSpecs> {
  readonly name: string;
  readonly summary: string;
  readonly paper: string;
  readonly params: P;
  create(params: ParamValuesOf<P>): Omit<S, 'name'>;
}

export function defineStrategy<S extends { readonly name: string }, P extends ParamSpecs>(
  family: StrategyFamily,
  spec: StrategySpec<S, P>,
): StrategyDefinition<S, P> {
  return {
    name: spec.name,
    family,
    summary: spec.summary,
    paper: spec.paper,
    params: spec.params,
    create: (params) => Object.assign(spec.create(params), { name: spec.name }) as S,
  };
}
