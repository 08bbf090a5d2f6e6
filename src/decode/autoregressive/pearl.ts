/**
 * PEARL: Parallel spEculative decoding with Adaptive dRaft Length (Liu et al., ICLR 2025,
 * arXiv:2408.11850; reference: smart-lty/ParallelSpeculativeDecoding `parallel_speculative_decoding`).
 *
 * The draft and the target run at the same time instead of taking turns:
 *
 * - pre-verify: while the draft writes γ tokens, the target scores the context alone and so
 *   verifies the first draft token in advance. Rejected: the target's correction is committed,
 *   the other drafts dropped. Accepted: switch to post-verify with the remaining γ−1 drafts.
 * - post-verify: while the target verifies the current window of drafts, the draft already writes
 *   the next γ tokens after the window. All accepted: the target's extra last position also checks
 *   the first new draft token, and decoding stays in post-verify with the new window, so the
 *   effective draft length grows as long as the draft keeps being right; a rejection commits the
 *   correction, drops the speculative drafts, and returns to pre-verify.
 *
 * Concurrency in paradec: the target's ONNX Runtime session runs in its own worker thread; the
 * draft runs on the calling thread by default (`in_process=true`), so a target forward and the
 * draft's forwards issued together (Promise.all) really overlap on two cores. In-process matters
 * for γ: a tiny draft forward costs ~0.2 ms on the calling thread against ~0.5–0.9 ms through a
 * worker hop, about what a small target forward costs — with a worker-backed draft the measured
 * speed ratio is ≈ 1, so γ = 1 and PEARL degenerates to one token per target forward (measured
 * before this default: 1.00 tokens per target forward on tiny-ar). `in_process=false` gives the
 * draft its own worker. The draft model gets 1 ORT thread by default so both fit the machine.
 * The overlap needs a core the target's forward leaves free. With ORT's default of one intra-op
 * thread per core (spinning between operators) the target's threads take the draft's core, and
 * drafting beside the forward only slows it (measured on 2 cores: 1.06–1.12× over greedy against
 * speculative decoding's 1.54–1.67×). So `overlap=auto` (the default) runs concurrently only when
 * the target reports a core to spare (`CausalModel.cpuThreads` < the machine's cores) or does not
 * say; otherwise there is no parallel hardware for PEARL's schedule, and its rounds run in turn —
 * draft, then verify — which is speculative decoding with the same draft (`draftModelStrategy`,
 * speculative.ts's adaptive length and confidence stop). Load the target with cores − 1 threads
 * to get the overlap; `paradec generate --strategy pearl` does so unless `--threads` is given.
 *
 * γ: the paper sets γ to the target/draft speed ratio c, so the draft's γ forwards take as long
 * as one target forward — the draft length that keeps both busy. `gamma=0` (the default) gets
 * that directly when the target runs in a worker (`CausalModel.busy`): the draft keeps drafting
 * until the target's forward is done (at most `max_gamma` tokens), so the draft length follows the
 * actual timings of every round, including load from other processes. A target without `busy`
 * (running on the calling thread) gets γ = round(c) from timed unoverlapped rounds (`SpeedRatio`).
 * `gamma=N` fixes it (the README's setting is 5). Measured on tiny-ar / tiny-ar-draft
 * (scripts/ar-report.ts, 72 instances, same run): time-bounded 1.28× over greedy, fixed γ = 5 0.93×
 * — with a fixed γ the calling thread is still drafting when the target's reply arrives.
 * Verification is exact match at temperature 0 (identical to plain greedy) and speculative
 * sampling otherwise (exact in distribution).
 */
import { availableParallelism } from 'node:os';
import type { CausalModel } from '../../runtime/types.js';
import { paramSpecs, type ParamValuesOf } from '../params.js';
import { DraftRunner, type Proposal } from './draft-model.js';
import { DRAFT_LOOP_PARAMS, DRAFT_MODEL_PARAMS, draftModelRequest, DRAFT_RUN_PARAMS } from './draft-params.js';
import { Lazy, type Loaded } from './extra-models.js';
import { draftModelStrategy } from './speculative.js';
import type { ArSession } from './session.js';
import { defineAutoregressiveStrategy, type ArStepResult, type AutoregressiveStrategy } from './types.js';
import { targetView, verifyDraft, type Draft } from './verify.js';

/**
 * γ = c, the target/draft speed ratio, measured on unoverlapped rounds: once the two overlap, the
 * target's wall time includes waiting for the draft (an in-process draft holds the calling thread
 * while the target's reply waits), which would inflate c and with it γ. So the strategy's first
 * rounds, and then one round in `RESAMPLE_EVERY`, run the target and the draft one after the
 * other and are timed; γ = round(c) over the last `WINDOW` such rounds. The very first round is
 * skipped (it prefills the prompt), and a stale sample from a cold start ages out of the window.
 */
const FIRST_SAMPLES = 3;
const RESAMPLE_EVERY = 16;
const WINDOW = 8;

export class SpeedRatio {
  private rounds = 0;
  private samples: { target: number; draft: number; forwards: number }[] = [];

  /** whether the next round runs unoverlapped and timed */
  get sampling(): boolean {
    return this.rounds <= FIRST_SAMPLES || this.rounds % RESAMPLE_EVERY === 0;
  }

  /** counts a round; for a sampled one, the target's forward time and the draft's for `forwards` */
  note(sample?: { target: number; draft: number; forwards: number }): void {
    const first = this.rounds === 0;
    this.rounds += 1;
    if (!sample || first || sample.forwards <= 0) return;
    this.samples.push(sample);
    if (this.samples.length > WINDOW) this.samples.shift();
  }

  gamma(max: number): number {
    if (this.samples.length === 0) return Math.min(max, 4);
    let target = 0;
    let draft = 0;
    let forwards = 0;
    for (const x of this.samples) {
      target += x.target;
      draft += x.draft;
      forwards += x.forwards;
    }
    const c = target / this.samples.length / (draft / forwards);
    return Math.max(1, Math.min(max, Math.round(c)));
  }
}

/**
 * Run both at once (overlapped) or, on a sampled round, one after the other and time them. With
 * `timeBounded` the draft was told to stop when the target is done, so there is no γ to measure.
 */
async function together<A>(speed: SpeedRatio, timeBounded: boolean, target: () => Promise<A>, draft: () => Promise<Proposal>): Promise<[A, Proposal]> {
  if (timeBounded) {
    // the target's forward is sent first; this thread drafts until it is done
    const scoring = target();
    let proposal: Proposal;
    try {
      proposal = await draft();
    } catch (e) {
      await scoring.catch(() => undefined);
      throw e;
    }
    return [await scoring, proposal];
  }
  if (!speed.sampling) {
    const both = await Promise.all([target(), draft()]);
    speed.note();
    return both;
  }
  const t0 = performance.now();
  const a = await target();
  const t1 = performance.now();
  const b = await draft();
  speed.note({ target: t1 - t0, draft: performance.now() - t1, forwards: b.forwards });
  return [a, b];
}

function slice(d: Draft, from: number, to = d.tokens.length): Draft {
  return { tokens: d.tokens.slice(from, to), ...(d.q ? { q: d.q.slice(from, to) } : {}) };
}

/**
 * Whether drafting beside the target's forward really runs in parallel: the target computes off
 * the calling thread (`busy`), and its forward leaves a core for the draft on the calling thread
 * (or does not say how many it takes: a scripted or remote model).
 */
export function canOverlap(target: CausalModel, cores = availableParallelism()): boolean {
  if (typeof target.busy !== 'function') return false;
  return target.cpuThreads === undefined || target.cpuThreads < cores;
}

function createPearl(params: ParamValuesOf<typeof PEARL_PARAMS>): Omit<AutoregressiveStrategy, 'name'> {
  const { gamma: fixedGamma, max_gamma: maxGamma, overlap } = params;
  const lazy = new Lazy<Loaded<CausalModel>>();
  const loadDraft = (session: ArSession): Promise<Loaded<CausalModel>> => lazy.get(() => session.models.causal(draftModelRequest('pearl', params)));
  /**
   * Rounds in turn when nothing can overlap: speculative decoding's loop with the same draft
   * (which this strategy owns: the loop gets it without the right to dispose it).
   */
  const inTurn = draftModelStrategy(
    {
      gamma: fixedGamma > 0 ? fixedGamma : DRAFT_LOOP_PARAMS.gamma.default,
      schedule: fixedGamma > 0 ? 'constant' : 'heuristic',
      maxGamma: Math.max(maxGamma, fixedGamma),
      confidence: DRAFT_LOOP_PARAMS.confidence.default,
      verify: 'sampling',
    },
    async (session) => {
      const owned = await loadDraft(session);
      return { model: owned.model, dir: owned.dir, dispose: async () => undefined };
    },
  );
  /** per session: whether its rounds overlap */
  let overlapping = true;
  const speed = new SpeedRatio();
  let runner: DraftRunner | undefined;
  let current: ArSession | undefined;
  /** post-verify: drafts after the committed tokens that the target has not verified yet */
  let window: Draft | null = null;

  /** draft while the target computes: needs a target that reports when it is done */
  const timeBounded = (session: ArSession): boolean => fixedGamma === 0 && typeof session.model.busy === 'function';
  const gamma = (session: ArSession): number => (fixedGamma > 0 ? fixedGamma : timeBounded(session) ? maxGamma : speed.gamma(maxGamma));

  const propose = async (session: ArSession, context: readonly number[], n: number): Promise<Proposal> => {
    const target = session.model;
    const value = await runner!.propose(context, n, {
      sampling: session.sampling,
      rng: session.rng,
      probabilities: !session.greedy,
      minConfidence: 0,
      eosTokenIds: target.eosTokenIds,
      ...(timeBounded(session) ? { until: () => target.busy!() } : {}),
    });
    session.stats.draftForwards += value.forwards;
    return value;
  };

  return {
    async step(session): Promise<ArStepResult> {
      const draft = await loadDraft(session);
      if (session !== current || !runner) {
        current = session;
        runner = new DraftRunner(draft.model);
        window = null;
        overlapping = overlap === 'on' || (overlap === 'auto' && canOverlap(session.model));
      }
      if (!overlapping) return inTurn.step(session);
      const eos = session.model.eosTokenIds;
      if (window && (window.tokens.length === 0 || window.tokens.length > session.draftRoom())) window = null;

      if (!window) {
        // pre-verify: the target scores the context while the draft writes γ tokens
        const n = Math.min(gamma(session), session.draftRoom());
        const [scored, proposal] = await together(speed, timeBounded(session), () => session.score([], { logits: !session.greedy }), () => propose(session, session.tokens, n));
        const { head, first, cache } = scored;
        if (proposal.tokens.length === 0) {
          const token = session.choose(head, first);
          session.commit([token], cache);
          return { tokens: [token], drafted: 0, accepted: 0 };
        }
        session.stats.verifies += 1;
        const verdict = verifyDraft(session, slice(proposal, 0, 1), targetView(session, head, first), 'sampling', { bonus: false });
        session.commit(verdict.tokens, cache);
        // accepted: the first draft is the target's own next token; the rest becomes the window
        window = verdict.accepted === 1 && !eos.includes(proposal.tokens[0]!) ? slice(proposal, 1) : null;
        return { tokens: verdict.tokens, drafted: 1, accepted: verdict.accepted };
      }

      // post-verify: the target verifies the window while the draft continues after it
      const w = window;
      const m = w.tokens.length;
      const context = [...session.tokens, ...w.tokens];
      const ahead = eos.includes(w.tokens[m - 1]!) ? 0 : Math.min(gamma(session), Math.max(0, session.draftRoom() - m - 1));
      const [scored, proposal] = await together(speed, timeBounded(session), () => session.score(w.tokens, { logits: !session.greedy }), () => propose(session, context, ahead));
      const { head, first, cache } = scored;
      session.stats.verifies += 1;
      const view = targetView(session, head, first);
      const verdict = verifyDraft(session, w, view, 'sampling', { bonus: false });
      if (verdict.accepted < m) {
        session.commit(verdict.tokens, cache);
        window = null;
        return { tokens: verdict.tokens, drafted: m, accepted: verdict.accepted };
      }
      // all accepted: the target's last position verifies the first new draft token (the next
      // window's pre-verify, for free), or gives the bonus token when nothing was drafted ahead
      const after = { p: (i: number) => view.p(m + i), pick: (i: number) => view.pick(m + i) };
      const next = verifyDraft(session, slice(proposal, 0, 1), after, 'sampling', { bonus: proposal.tokens.length === 0 });
      const tokens = [...w.tokens, ...next.tokens];
      session.commit(tokens, cache);
      window = next.accepted === 1 && !eos.includes(proposal.tokens[0]!) ? slice(proposal, 1) : null;
      const verified = m + (proposal.tokens.length > 0 ? 1 : 0);
      return { tokens, drafted: verified, accepted: m + next.accepted };
    },
    dispose: async () => {
      await inTurn.dispose?.();
      await lazy.dispose();
    },
  };
}

const PEARL_PARAMS = paramSpecs({
  ...DRAFT_MODEL_PARAMS,
  gamma: { type: 'int', default: 0, min: 0, max: 128, description: 'draft tokens per round; 0 = as many as fit in the target\'s forward (draft while it runs; measured speed ratio for a target on the calling thread)' },
  max_gamma: { type: 'int', default: 16, min: 1, max: 128, description: 'upper bound of the draft length when gamma=0' },
  ...DRAFT_RUN_PARAMS,
  in_process: { ...DRAFT_RUN_PARAMS.in_process, description: 'run the draft on the calling thread (overlapping the target\'s worker) instead of its own worker' },
  overlap: { type: 'string', default: 'auto', choices: ['auto', 'on', 'off'], description: 'draft during the target\'s forward: auto = only when the target leaves a CPU core free (else draft and verify in turn, as speculative decoding)' },
});

export const pearl = defineAutoregressiveStrategy({
  name: 'pearl',
  summary: 'draft and target run concurrently (pre-verify / post-verify), so the draft length adapts on its own',
  paper: 'Liu et al., PEARL: Parallel Speculative Decoding with Adaptive Draft Length, ICLR 2025 (arXiv:2408.11850)',
  params: PEARL_PARAMS,
  create: createPearl,
});
