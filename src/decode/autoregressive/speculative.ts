/**
 * Speculative decoding with a draft model (Leviathan, Kalman & Matias 2023, "Fast Inference from
 * Transformers via Speculative Decoding", arXiv:2211.17192; Chen et al. 2023, "Accelerating Large
 * Language Model Decoding with Speculative Sampling", arXiv:2302.01318).
 *
 * Each round the draft model (`draft=DIR`, default the built-in `tiny-ar-draft`) proposes up to γ
 * tokens, one cheap forward each; the target scores all of them in one forward; the verification
 * rule (`verify=greedy|sampling|block`, see verify.ts) keeps a prefix and adds one target token;
 * both KV caches are rolled back to the kept length.
 *
 * Draft length (HF transformers' assisted-generation defaults, the reference implementation most
 * users meet): `schedule=heuristic` grows γ by 2 after a round whose drafts were all accepted
 * (however many were drafted) and shrinks it by 1 (floor 1) after a rejection; the draft also
 * stops as soon as the probability of its own token falls below `confidence` (HF
 * `assistant_confidence_threshold` = 0.4), a fixed threshold: HF's code also re-fits it each round
 * from an ROC curve of the draft's probabilities against acceptance (when scikit-learn is
 * installed), but current transformers writes the fitted value to its own copy of the assistant's
 * generation config, which the stopping criterion never reads (it reads the config the candidate
 * generator built once), so the stop stays at 0.4 there too. HF
 * starts at γ = 20 for billion-parameter pairs; paradec starts at 5 (the γ of PEARL's README),
 * which suits its short task answers; `max_gamma` caps the growth. The draft model runs on the
 * calling thread by default (`in_process`, runtime/inprocess-model.ts): drafting is sequential and
 * latency-bound, and a worker hop per draft token would cost more than the draft forward.
 *
 * Output: with verify=greedy (and at temperature 0 with every rule) identical to plain decoding
 * of the target; with sampling/block exactly the target's sampling distribution.
 */
import type { CausalModel } from '../../runtime/types.js';
import { DraftLength, DraftRunner } from './draft-model.js';
import { DRAFT_LOOP_PARAMS, DRAFT_MODEL_PARAMS, draftModelRequest, DRAFT_RUN_PARAMS, draftSettings, type DraftModelSettings } from './draft-params.js';
import { Lazy, type Loaded } from './extra-models.js';
import type { ArSession } from './session.js';
import { defineAutoregressiveStrategy, type ArStepResult, type AutoregressiveStrategy } from './types.js';
import { verifyAndCommit } from './verify.js';

/**
 * The draft-model draft-and-verify loop, shared by `speculative` (a separate draft LM) and
 * `layerskip` (the target with skipped layers). `load` gives the draft on the first step.
 */
export function draftModelStrategy(settings: DraftModelSettings, load: (session: ArSession) => Promise<Loaded<CausalModel>>): Omit<AutoregressiveStrategy, 'name'> {
  const lazy = new Lazy<Loaded<CausalModel>>();
  const length = new DraftLength(settings.gamma, settings.schedule, settings.maxGamma);
  let runner: DraftRunner | undefined;
  let current: ArSession | undefined;
  return {
    async step(session): Promise<ArStepResult> {
      const draft = await lazy.get(() => load(session));
      if (session !== current || !runner) {
        current = session;
        runner = new DraftRunner(draft.model);
      }
      const asked = Math.min(length.current, session.draftRoom());
      const probabilities = !session.greedy && settings.verify !== 'greedy';
      const proposal = await runner.propose(session.tokens, asked, {
        sampling: session.sampling,
        rng: session.rng,
        probabilities,
        minConfidence: settings.confidence,
        eosTokenIds: session.model.eosTokenIds,
      });
      session.stats.draftForwards += proposal.forwards;
      const verdict = await verifyAndCommit(session, proposal, settings.verify);
      if (asked > 0) length.update(proposal.tokens.length, verdict.accepted);
      return { tokens: verdict.tokens, drafted: proposal.tokens.length, accepted: verdict.accepted };
    },
    dispose: () => lazy.dispose(),
  };
}

export const speculative = defineAutoregressiveStrategy({
  name: 'speculative',
  summary: 'a small draft model proposes γ tokens, the target verifies them in one forward (greedy / speculative sampling / block verification)',
  paper: 'Leviathan et al. 2023 (arXiv:2211.17192); Chen et al. 2023 (arXiv:2302.01318); block verification: Sun et al., ICLR 2025 (arXiv:2403.10444)',
  params: {
    ...DRAFT_MODEL_PARAMS,
    ...DRAFT_LOOP_PARAMS,
    ...DRAFT_RUN_PARAMS,
  },
  create: (params) => draftModelStrategy(draftSettings(params), (session) => session.models.causal(draftModelRequest('speculative', params))),
});
