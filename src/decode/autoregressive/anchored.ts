/**
 * Anchored Decoding (2026, "Anchored Decoding: Provably Reducing Copyright Risk for Any Language
 * Model", arXiv:2602.07120). A safety decoder, not a speed-up.
 *
 * Decode from the (risky) target while staying within a budgeted divergence of a second, "safe"
 * model (`safe=DIR`, default the built-in `tiny-ar-draft`, which shares the tokenizer). Each step
 * samples from the geometric mixture p_λ ∝ p_safe^{1−λ} · p_target^{λ} with the largest λ ∈ [0, 1]
 * whose per-step divergence KL(p_λ ‖ p_safe) fits the step's allowance; the divergences spent add
 * up (chain rule) to the sequence-level KL from the safe model, which never exceeds `budget` nats.
 * λ = 1 is plain decoding of the target, λ = 0 decoding of the safe model.
 *
 * Budget allocation: the allowance of a step is the budget still unspent divided by
 * min(`horizon`, tokens left), so steps where the two models agree leave budget for later ones
 * (adaptive spending), and no single step can spend more than 1/horizon of what is left.
 *
 * What the budget is counted on (`anchoredStep`): the distribution the step actually samples
 * from. When sampling, the session's sampler (temperature, then top-k, then top-p:
 * `samplingDistribution`) is applied to p_λ, the KL of THAT distribution is counted against the
 * anchor, which is the same sampler applied to the safe model, and the token is drawn from it as
 * it is (nothing re-processes it afterwards). So the guarantee is against the safe model decoded
 * with the same settings; at temperature 1 without truncation that is the safe model itself. The
 * paper's code does the same for temperature: its `ProximalDecodingFactory._decode` (token-level
 * decoder of the `anchoreddecode` package) applies the logits warpers to both models' logits
 * BEFORE solving for the mixture weight, measures KL(fused ‖ safe) in that warped space, samples
 * the fused distribution directly, and refuses post-hoc warpers as breaking the guarantee; its
 * default warpers are temperature only, top-k / top-p are paradec's extension of the same rule.
 * With top-k / top-p the anchor is zero outside the safe model's kept tokens, so the mixture
 * stays on them (a large budget is plain target decoding only where both kept sets agree).
 * At temperature 0 the token is the argmax of the temperature-1 mixture whose KL fits, as the
 * reference's argmax path (a point mass's own divergence is not what is counted).
 *
 * Gaps: the reference banks `k_radius` nats per generated token (the allowance of step t is
 * (t+1)·k minus what was spent, with an optional "prefix debt" for prompts that are already
 * risky, solved by Newton's method); paradec keeps a total `budget` spread as above, solved by
 * bisection, and has no prefix debt or byte-level cross-tokenizer variant; `budget` and
 * `horizon` defaults (4 nats, 16) are paradec's. The safe model runs beside the target (its own
 * worker thread) and its forwards are counted apart from the target's.
 */
import type { CausalModel } from '../../runtime/types.js';
import { paramSpecs, type ParamValuesOf } from '../params.js';
import { DraftRunner } from './draft-model.js';
import { threadsParam } from './draft-params.js';
import { Lazy, type Loaded } from './extra-models.js';
import { drawCategorical, samplingDistribution, type SamplingOptions } from './sampling.js';
import type { ArSession } from './session.js';
import { defineAutoregressiveStrategy, type AutoregressiveStrategy } from './types.js';

function logSoftmax(logits: Float32Array, offset: number, vocab: number): Float64Array {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v]!);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[offset + v]! - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(vocab);
  for (let v = 0; v < vocab; v++) out[v] = logits[offset + v]! - lse;
  return out;
}

/** log p_λ for log p_λ ∝ (1−λ)·log p_safe + λ·log p_target, and KL(p_λ ‖ p_safe). */
export function geometricMixture(logSafe: Float64Array, logTarget: Float64Array, lambda: number): { logp: Float64Array; kl: number } {
  const V = logSafe.length;
  const raw = new Float64Array(V);
  let max = -Infinity;
  for (let v = 0; v < V; v++) {
    const a = logSafe[v]!;
    const b = logTarget[v]!;
    raw[v] = lambda === 0 ? a : lambda === 1 ? b : (1 - lambda) * a + lambda * b;
    if (raw[v]! > max) max = raw[v]!;
  }
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(raw[v]! - max);
  const lse = max + Math.log(sum);
  let kl = 0;
  for (let v = 0; v < V; v++) {
    raw[v] = raw[v]! - lse;
    const p = Math.exp(raw[v]!);
    if (p > 0 && Number.isFinite(logSafe[v]!)) kl += p * (raw[v]! - logSafe[v]!);
  }
  return { logp: raw, kl: Math.max(0, kl) };
}

/**
 * λ by bisection on [0, 1]: 1 when the whole target fits `allowance`, else the last of 30 halvings
 * whose divergence fits (λ = 0, the anchor itself, always does: `atZero`).
 */
function fittingLambda<T extends { kl: number }>(at: (lambda: number) => T, allowance: number, atZero: () => T): T & { lambda: number } {
  const full = at(1);
  if (full.kl <= allowance) return { ...full, lambda: 1 };
  let lo = 0;
  let hi = 1;
  let best = atZero();
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    const m = at(mid);
    if (m.kl <= allowance) {
      lo = mid;
      best = m;
    } else hi = mid;
  }
  return { ...best, lambda: lo };
}

/** The largest λ whose KL(p_λ ‖ p_safe) ≤ allowance (KL grows with λ), by bisection. */
export function anchoredLambda(logSafe: Float64Array, logTarget: Float64Array, allowance: number): { lambda: number; logp: Float64Array; kl: number } {
  const mixture = (lambda: number) => geometricMixture(logSafe, logTarget, lambda);
  return fittingLambda(mixture, allowance, () => mixture(0));
}

/** KL(q ‖ anchor) of two probability vectors; Infinity where q has mass the anchor lacks. */
function klTo(q: Float64Array, anchor: Float64Array): number {
  let kl = 0;
  for (let v = 0; v < q.length; v++) {
    const p = q[v]!;
    if (p <= 0) continue;
    const a = anchor[v]!;
    if (a <= 0) return Infinity;
    kl += p * (Math.log(p) - Math.log(a));
  }
  return Math.max(0, kl);
}

/**
 * One sampling step: the distribution the step samples from is the session's sampler
 * (`samplingDistribution`: temperature, then top-k, then top-p) applied to the mixture p_λ, and
 * its KL is counted against the anchor, the same sampler applied to the safe model (λ = 0, so
 * λ = 0 is the anchor exactly and always fits). Returns the largest λ found by bisection whose
 * sampled distribution fits `allowance`, that distribution (sample from it as it is) and its KL.
 * With top-k / top-p the anchor is zero outside the safe model's kept tokens, so a λ whose kept
 * set leaves it costs ∞: the mixture stays on the safe model's kept tokens, and a large budget is
 * plain target decoding only where the two kept sets agree. Every λ kept by the bisection is
 * checked, so the allowance holds even where the KL is not monotone in λ (top-p can make it so);
 * λ is then a feasible one, not always the largest.
 */
export function anchoredStep(logSafe: Float64Array, logTarget: Float64Array, allowance: number, sampling: SamplingOptions): { lambda: number; probs: Float64Array; kl: number } {
  const V = logSafe.length;
  const sampled = (lambda: number): Float64Array => samplingDistribution(Float32Array.from(geometricMixture(logSafe, logTarget, lambda).logp), 0, V, sampling);
  const anchor = sampled(0);
  const at = (lambda: number) => {
    const probs = sampled(lambda);
    return { lambda, probs, kl: klTo(probs, anchor) };
  };
  return fittingLambda(at, allowance, () => ({ lambda: 0, probs: anchor, kl: 0 }));
}

export interface AnchoredTrace {
  lambda: number;
  kl: number;
  allowance: number;
}

function createAnchored(params: ParamValuesOf<typeof ANCHORED_PARAMS>): Omit<AutoregressiveStrategy, 'name'> & { readonly trace: AnchoredTrace[]; readonly spent: number } {
  const { budget, horizon } = params;
  const lazy = new Lazy<Loaded<CausalModel>>();
  let runner: DraftRunner | undefined;
  let current: ArSession | undefined;
  let spent = 0;
  const trace: AnchoredTrace[] = [];
  return {
    get trace() {
      return trace;
    },
    get spent() {
      return spent;
    },
    async step(session) {
      const safe = await lazy.get(() => session.models.causal({ owner: 'anchored', what: 'safe model', model: params.safe, threads: params.threads }));
      if (session !== current || !runner) {
        current = session;
        runner = new DraftRunner(safe.model);
        spent = 0;
        trace.length = 0;
      }
      const [scored, safeLogits] = await Promise.all([session.score([], { logits: true }), runner.logitsAfter(session.tokens)]);
      session.stats.draftForwards += 1;
      const { head, first, cache } = scored;
      const V = head.vocabSize;
      const logTarget = logSoftmax(head.logits!, first * V, V);
      const logSafe = logSoftmax(safeLogits, 0, V);
      const allowance = Math.max(0, budget - spent) / Math.max(1, Math.min(horizon, session.remaining));
      let token: number;
      if (session.greedy) {
        // temperature 0: the argmax of the temperature-1 mixture whose KL fits
        const mix = anchoredLambda(logSafe, logTarget, allowance);
        spent += mix.kl;
        trace.push({ lambda: mix.lambda, kl: mix.kl, allowance });
        token = 0;
        for (let v = 1; v < V; v++) if (mix.logp[v]! > mix.logp[token]!) token = v;
      } else {
        // the budget is spent on the distribution sampled, which is drawn from as it is
        const mix = anchoredStep(logSafe, logTarget, allowance, session.sampling);
        spent += mix.kl;
        trace.push({ lambda: mix.lambda, kl: mix.kl, allowance });
        token = drawCategorical(mix.probs, session.rng);
      }
      session.commit([token], cache);
      return { tokens: [token], drafted: 0, accepted: 0 };
    },
    dispose: () => lazy.dispose(),
  };
}

const ANCHORED_PARAMS = paramSpecs({
  safe: { type: 'string', default: 'tiny-ar-draft', description: 'the safe model: a checkpoint directory or a built-in model name', names: 'model' },
  budget: { type: 'number', default: 4, min: 0, description: 'total KL budget, in nats, of the sampled distribution from the safe model under the same sampler' },
  horizon: { type: 'int', default: 16, min: 1, max: 100000, description: 'a step may spend at most 1/horizon of the unspent budget' },
  threads: threadsParam('the safe model'),
});

export const anchored = defineAutoregressiveStrategy({
  name: 'anchored',
  summary: 'decode the target while keeping the sequence within a KL budget of a safe model (geometric mixture per step)',
  paper: 'Anchored Decoding: Provably Reducing Copyright Risk for Any Language Model, 2026 (arXiv:2602.07120)',
  params: ANCHORED_PARAMS,
  create: createAnchored,
});
