/**
 * Multi-path speculative decoding with greedy multi-path block verification (after Thomas & Pal
 * 2026, "Greedy Multi-Path Block Verification for Faster Decoding in Speculative Sampling",
 * arXiv:2602.16961, GBV). The draft model samples K paths of L tokens i.i.d. (defaults K = 4,
 * L = 8, the example setting of the paper's reference code); the target scores every path in one
 * forward; the verifier returns a node on one path plus a residual token.
 *
 * What the paper gives and what it does not: the abstract establishes that block verification
 * (BV, Sun et al.) is optimal over single-path verifiers and defines GBV as an efficient greedy
 * member of a class of multi-path BV generalisations, but its exact greedy rule was not
 * available to us. paradec implements this greedy multi-path BV, which reduces to BV at K = 1
 * and is exact in distribution:
 *
 *   1. run BV on the first path; it keeps X_1..X_τ and leaves a residual R at position τ+1;
 *   2. instead of sampling the correction from R, hand R to the next unused path that agrees with
 *      the kept prefix (its token at τ+1 is an independent draw from the same draft
 *      distribution) and run BV on that path's remaining suffix with R as the target at its
 *      first position (a valid BV instance: BV is exact for any target at any position);
 *   3. repeat until a path is kept to its end (bonus token from the target) or no compatible path
 *      is left (sample the correction from the current residual).
 *
 * Each hand-over is one step of recursive rejection sampling over i.i.d. drafts (SpecInfer /
 * SpecTr), so the emitted token at every junction is distributed as the residual it replaces.
 * At temperature 0 the paths are the draft's top-K first tokens continued greedily and the rule
 * is the longest exact match over the paths: identical to plain greedy decoding.
 *
 * Engine: on a model with tree attention (paradec-compiled models, `forwardTree`) the K paths are
 * merged into a trie and verified in one tree forward (shared prefixes computed once, the kept
 * path's keys/values compacted into the cache; see tree.ts). Other models verify them as the K
 * rows of one batched forward (each row on a copy of the KV cache, the kept row's cache
 * committed). Both give the same views, so the same verdicts.
 */
import type { CausalModel } from '../../runtime/types.js';
import type { RandomSource } from '../diffusion/types.js';
import { paramSpecs, type ParamValuesOf } from '../params.js';
import { DraftRunner } from './draft-model.js';
import { DRAFT_MODEL_PARAMS, draftModelRequest, DRAFT_RUN_PARAMS } from './draft-params.js';
import { Lazy, type Loaded } from './extra-models.js';
import { drawCategorical } from './sampling.js';
import type { ArSession } from './session.js';
import { scorePaths } from './tree.js';
import { defineAutoregressiveStrategy, type AutoregressiveStrategy } from './types.js';
import { residual, stopProbability, type TargetView } from './verify.js';

export interface PathsVerdict {
  row: number;
  /** kept draft tokens then the correction / bonus token */
  tokens: number[];
  accepted: number;
}

/**
 * Exact-match verification of a tree given as paths (lossless for deterministic drafts, greedy or
 * sampled target): the target's pick at each depth is taken from a row still on the kept prefix,
 * and the paths that agree with it go on.
 */
export function verifyPathsExact(paths: readonly (readonly number[])[], views: readonly TargetView[]): PathsVerdict {
  let alive = paths.map((_, r) => r);
  const tokens: number[] = [];
  for (let i = 0; ; i++) {
    const row = alive[0]!;
    const y = views[row]!.pick(i);
    tokens.push(y);
    const next = alive.filter((r) => paths[r]!.length > i && paths[r]![i] === y);
    if (next.length === 0) return { row, tokens, accepted: i };
    alive = next;
  }
}

/** BV on one path suffix; target(0) may be a residual handed over from an earlier path. */
function blockSegment(xs: readonly number[], qs: readonly Float64Array[], target: (i: number) => Float64Array, rng: RandomSource): { tau: number; residual: Float64Array | null } {
  const gamma = xs.length;
  const w = [1];
  for (let i = 0; i < gamma; i++) {
    const x = xs[i]!;
    const qx = qs[i]![x]!;
    w.push(Math.min(1, w[i]! * (qx > 0 ? target(i)[x]! / qx : 1)));
  }
  let tau = 0;
  for (let i = 1; i <= gamma; i++) {
    const h = i === gamma ? w[gamma]! : stopProbability(w[i]!, target(i), qs[i]!);
    if (rng.float() < h) tau = i;
  }
  return { tau, residual: tau === gamma ? null : residual(target(tau), qs[tau]!, w[tau]!) };
}

/** Greedy multi-path block verification over i.i.d. draft paths (see the file comment). */
export function verifyPathsBlock(paths: readonly (readonly number[])[], q: readonly (readonly Float64Array[])[], views: readonly TargetView[], rng: RandomSource): PathsVerdict {
  const used = new Set<number>();
  const kept: number[] = [];
  let handed: Float64Array | null = null;
  let row = 0;
  for (;;) {
    const s = kept.length;
    const next = paths.findIndex((p, r) => !used.has(r) && p.length > s && kept.every((t, i) => p[i] === t));
    if (next < 0) {
      const dist = handed ?? views[row]!.p(s);
      return { row, tokens: [...kept, drawCategorical(dist, rng)], accepted: s };
    }
    used.add(next);
    row = next;
    const view = views[row]!;
    const start: Float64Array | null = handed;
    const target = (i: number): Float64Array => (i === 0 && start ? start : view.p(s + i));
    const seg = blockSegment(paths[row]!.slice(s), q[row]!.slice(s), target, rng);
    kept.push(...paths[row]!.slice(s, s + seg.tau));
    if (seg.residual === null) {
      return { row, tokens: [...kept, drawCategorical(view.p(kept.length), rng)], accepted: kept.length };
    }
    handed = seg.residual;
  }
}

function createMultipath(params: ParamValuesOf<typeof MULTIPATH_PARAMS>): Omit<AutoregressiveStrategy, 'name'> {
  const { paths: K, length: L } = params;
  const lazy = new Lazy<Loaded<CausalModel>>();
  let runner: DraftRunner | undefined;
  let current: ArSession | undefined;
  return {
    async step(session) {
      const draft = await lazy.get(() => session.models.causal(draftModelRequest('multipath', params)));
      if (session !== current || !runner) {
        current = session;
        runner = new DraftRunner(draft.model);
      }
      const length = Math.min(L, session.draftRoom());
      const probabilities = !session.greedy;
      const proposal = await runner.proposePaths(session.tokens, K, length, {
        sampling: session.sampling,
        rng: session.rng,
        probabilities,
        branching: probabilities ? 'sample' : 'topk',
        eosTokenIds: session.model.eosTokenIds,
      });
      session.stats.draftForwards += proposal.forwards;
      const paths = proposal.paths.length > 0 ? proposal.paths : [[]];
      const scored = await scorePaths(session, paths);
      if (proposal.paths.length > 0) session.stats.verifies += 1;
      const views = scored.views;
      const verdict = probabilities && proposal.q
        ? verifyPathsBlock(paths, proposal.q, views, session.rng)
        : verifyPathsExact(paths, views);
      scored.commit(verdict.tokens, verdict.row);
      return { tokens: verdict.tokens, drafted: paths[verdict.row]!.length, accepted: verdict.accepted };
    },
    dispose: () => lazy.dispose(),
  };
}

const MULTIPATH_PARAMS = paramSpecs({
  ...DRAFT_MODEL_PARAMS,
  paths: { type: 'int', default: 4, min: 1, max: 64, description: 'draft paths per round (K)' },
  length: { type: 'int', default: 8, min: 1, max: 128, description: 'tokens per path (L)' },
  ...DRAFT_RUN_PARAMS,
});

export const multipath = defineAutoregressiveStrategy({
  name: 'multipath',
  summary: 'K draft paths verified in one target forward (tree attention, else batched rows) with greedy multi-path block verification (GBV)',
  paper: 'Thomas & Pal 2026, Greedy Multi-Path Block Verification (arXiv:2602.16961); BV: Sun et al., ICLR 2025',
  params: MULTIPATH_PARAMS,
  create: createMultipath,
});
