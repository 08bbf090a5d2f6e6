/**
 * Verification rules of draft-and-verify decoding: given draft tokens and the target's
 * per-position outputs from one forward over them, decide how many drafts to keep and which
 * token follows (the correction, or the bonus token when every draft is kept).
 *
 * - `greedy` (exact match): the target picks its own token at each position with the session's
 *   sampler (argmax at temperature 0) and a draft is kept while it equals that pick. The output is
 *   the target's own output token for token: identical to plain greedy decoding at temperature 0,
 *   and exactly the target's distribution when sampling (the drafts only decide how many target
 *   picks one forward yields). Works for drafts with no probabilities (prompt lookup, ADED).
 * - `sampling`: speculative sampling (Leviathan et al. 2023, arXiv:2211.17192; Chen et al. 2023,
 *   arXiv:2302.01318). Draft x_i ~ q_i is kept with probability min(1, p_i(x_i)/q_i(x_i)); at the
 *   first rejection the correction is drawn from norm(max(0, p_i − q_i)); if all γ drafts are
 *   kept, a bonus token comes from p_{γ+1}. Exact in distribution.
 * - `block`: block verification (Sun, Mendlovic, Leviathan et al., ICLR 2025, arXiv:2403.10444):
 *   with p_0 = 1 and p_i = min(1, p_{i−1}·p(X_i)/q(X_i)), position i < γ is a candidate end with
 *   probability h_i = Σ_x max(p_i·p_{i+1}(x) − q_{i+1}(x), 0) / (that sum + 1 − p_i), h_γ = p_γ;
 *   τ = the last candidate drawn (η_i ~ Bern(h_i)), the kept drafts are X_1..X_τ and the next
 *   token comes from norm(max(p_τ·p_{τ+1} − q_{τ+1}, 0)) (τ < γ) or p_{γ+1} (τ = γ). Also exact in
 *   distribution, and never keeps fewer tokens in expectation than token-wise verification.
 *
 * At temperature 0 the target distribution is one-hot and all three rules reduce to exact match,
 * which is what they run.
 */
import type { DecodeHeadOutput } from '../../runtime/types.js';
import { OptionError } from '../../errors.js';
import type { RandomSource } from '../diffusion/types.js';
import { drawCategorical } from './sampling.js';
import type { ArSession } from './session.js';

export type VerifyRule = 'greedy' | 'sampling' | 'block';
export const VERIFY_RULES: readonly VerifyRule[] = ['greedy', 'sampling', 'block'];

/** Draft tokens, and for probabilistic rules the distribution each was drawn from. */
export interface Draft {
  tokens: number[];
  /** q[i]: the draft's (sampler-processed) distribution that tokens[i] was drawn from */
  q?: Float64Array[];
}

export interface Verdict {
  /** how many draft tokens were kept */
  accepted: number;
  /** the tokens to commit: the kept drafts and then the correction / bonus token */
  tokens: number[];
}

/** The target's view for one draft path: the distribution / pick at path position i (0 = next token). */
export interface TargetView {
  /** the session's sampler distribution after i kept drafts (needs logits) */
  p(i: number): Float64Array;
  /** the target's own pick after i kept drafts (argmax at temperature 0, else a sample) */
  pick(i: number): number;
}

/** The target view for a head row: path position i is head position `first + i`. */
export function targetView(session: ArSession, head: DecodeHeadOutput, first: number): TargetView {
  const memo = new Map<number, Float64Array>();
  return {
    p(i) {
      let d = memo.get(i);
      if (!d) {
        d = session.distribution(head, first + i);
        memo.set(i, d);
      }
      return d;
    },
    pick: (i) => session.choose(head, first + i),
  };
}

/** Exact-match verification (lossless for any drafts, greedy or sampled target). */
export function verifyExact(drafts: readonly number[], target: TargetView, bonus = true): Verdict {
  for (let i = 0; i < drafts.length; i++) {
    const y = target.pick(i);
    if (y !== drafts[i]) return { accepted: i, tokens: [...drafts.slice(0, i), y] };
  }
  return { accepted: drafts.length, tokens: bonus ? [...drafts, target.pick(drafts.length)] : [...drafts] };
}

/** norm(max(0, scale·p − q)); falls back to p when that is all zero (p ≤ q everywhere). */
export function residual(p: Float64Array, q: Float64Array, scale = 1): Float64Array {
  const out = new Float64Array(p.length);
  let sum = 0;
  for (let v = 0; v < p.length; v++) {
    const r = scale * p[v]! - q[v]!;
    if (r > 0) {
      out[v] = r;
      sum += r;
    }
  }
  if (!(sum > 1e-300)) return Float64Array.from(p);
  for (let v = 0; v < out.length; v++) out[v] = out[v]! / sum;
  return out;
}

function needQ(draft: Draft, rule: VerifyRule): Float64Array[] {
  if (!draft.q || draft.q.length < draft.tokens.length) {
    throw new OptionError(`verify=${rule} needs the draft's probabilities; this draft source gives none (use verify=greedy)`);
  }
  return draft.q;
}

/** Speculative sampling (Leviathan et al. / Chen et al.). */
export function verifySampling(draft: Draft, target: TargetView, rng: RandomSource, bonus = true): Verdict {
  const q = needQ(draft, 'sampling');
  const xs = draft.tokens;
  for (let i = 0; i < xs.length; i++) {
    const p = target.p(i);
    const x = xs[i]!;
    const qi = q[i]!;
    const ratio = qi[x]! > 0 ? p[x]! / qi[x]! : 1;
    if (rng.float() < Math.min(1, ratio)) continue;
    return { accepted: i, tokens: [...xs.slice(0, i), drawCategorical(residual(p, qi), rng)] };
  }
  return { accepted: xs.length, tokens: bonus ? [...xs, drawCategorical(target.p(xs.length), rng)] : [...xs] };
}

/** Block verification (Sun et al., ICLR 2025, Algorithm 2). */
export function verifyBlock(draft: Draft, target: TargetView, rng: RandomSource): Verdict {
  const q = needQ(draft, 'block');
  const xs = draft.tokens;
  const gamma = xs.length;
  const weights = blockWeights(draft, target);
  let tau = 0;
  for (let i = 1; i <= gamma; i++) {
    const h = i === gamma ? weights[i]! : stopProbability(weights[i]!, target.p(i), q[i]!);
    if (rng.float() < h) tau = i;
  }
  const kept = xs.slice(0, tau);
  if (tau === gamma) return { accepted: gamma, tokens: [...kept, drawCategorical(target.p(gamma), rng)] };
  return { accepted: tau, tokens: [...kept, drawCategorical(residual(target.p(tau), q[tau]!, weights[tau]!), rng)] };
}

/** p_0 = 1, p_i = min(1, p_{i−1}·p(X_i)/q(X_i)). */
export function blockWeights(draft: Draft, target: TargetView): number[] {
  const q = needQ(draft, 'block');
  const w = [1];
  for (let i = 0; i < draft.tokens.length; i++) {
    const x = draft.tokens[i]!;
    const qx = q[i]![x]!;
    const ratio = qx > 0 ? target.p(i)[x]! / qx : 1;
    w.push(Math.min(1, w[i]! * ratio));
  }
  return w;
}

/** h_i for i < γ: the residual mass at weight w over itself plus the weight still missing. */
export function stopProbability(w: number, p: Float64Array, q: Float64Array): number {
  let mass = 0;
  for (let v = 0; v < p.length; v++) mass += Math.max(w * p[v]! - q[v]!, 0);
  const denom = mass + 1 - w;
  return denom > 1e-300 ? mass / denom : 1;
}

/**
 * Apply a rule; at temperature 0 every rule is exact match. `bonus: false` leaves out the bonus
 * token after a fully accepted draft (for callers that verify further drafts at that position);
 * a rejection always yields its correction token.
 */
export function verifyDraft(session: ArSession, draft: Draft, target: TargetView, rule: VerifyRule, options: { bonus?: boolean } = {}): Verdict {
  const bonus = options.bonus ?? true;
  if (session.greedy || rule === 'greedy' || draft.tokens.length === 0) return verifyExact(draft.tokens, target, bonus);
  if (rule === 'sampling' || !bonus) return verifySampling(draft, target, session.rng, bonus);
  return verifyBlock(draft, target, session.rng);
}

/**
 * One draft-and-verify step on the session: a single target forward over the pending tokens and
 * the draft, the rule's verdict, and the commit (which rolls the KV cache back to the kept
 * length). With an empty draft this is one plain decoding step.
 */
export async function verifyAndCommit(session: ArSession, draft: Draft, rule: VerifyRule): Promise<Verdict> {
  const scored = await session.score(draft.tokens);
  if (draft.tokens.length > 0) session.stats.verifies += 1;
  const verdict = verifyDraft(session, draft, targetView(session, scored.head, scored.first), rule);
  session.commit(verdict.tokens, scored.cache);
  return verdict;
}

/** The EOS-aware cut of a draft: nothing after an end-of-text token is worth verifying. */
export function cutAtEos(draft: Draft, eos: readonly number[]): Draft {
  const at = draft.tokens.findIndex((t) => eos.includes(t));
  if (at < 0) return draft;
  return { tokens: draft.tokens.slice(0, at + 1), ...(draft.q ? { q: draft.q.slice(0, at + 1) } : {}) };
}
