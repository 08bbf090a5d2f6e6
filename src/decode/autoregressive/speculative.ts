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
 * users meet): `schedule=heuristic` grows γ by 2 after a round whose drafts were all accepted and
 * shrinks it by 1 (floor 1) after a rejection; the draft also stops as soon as the probability
 * of its own token falls below `confidence` (HF `assistant_confidence_threshold` = 0.4). HF
 * starts at γ = 20 for billion-parameter pairs; paradec starts at 5 (the γ of PEARL's README),
 * which suits its short task answers; `max_gamma` caps the growth. The draft model runs on the
 * calling thread by default (`in_process`, runtime/inprocess-model.ts): drafting is sequential and
 * latency-bound, and a worker hop per draft token would cost more than the draft forward.
 *
 * Output: with verify=greedy (and at temperature 0 with every rule) identical to plain decoding
 * of the target; with sampling/block exactly the target's sampling distribution.
 */
import type { ParamSpecs, ParamValues } from '../params.js';
import type { CausalModel } from '../../runtime/types.js';
import { DraftLength, DraftRunner } from './draft-model.js';
import { Lazy, loadCausal, type Loaded } from './models.js';
import type { ArSession } from './session.js';
import type { ArStepResult, AutoregressiveStrategy, AutoregressiveStrategyDefinition } from './types.js';
import { VERIFY_RULES, verifyAndCommit, type VerifyRule } from './verify.js';

export const DRAFT_PARAMS: ParamSpecs = {
  gamma: { type: 'int', default: 5, min: 1, max: 128, description: 'draft tokens per round to start with (γ)' },
  schedule: { type: 'string', default: 'heuristic', choices: ['heuristic', 'constant'], description: 'draft length schedule: heuristic = +2 on full accept, −1 on reject (HF)' },
  max_gamma: { type: 'int', default: 32, min: 1, max: 256, description: 'upper bound of the adaptive draft length' },
  confidence: { type: 'number', default: 0.4, min: 0, max: 1, description: 'stop drafting after a token the draft gives less than this probability (0 = never)' },
  threads: { type: 'int', default: 1, min: 0, max: 256, description: 'ORT threads of the draft model (0 = ORT default)' },
  in_process: { type: 'boolean', default: true, description: 'run the draft model on the calling thread (no worker hop per draft token)' },
};

export const VERIFY_PARAM: ParamSpecs = {
  verify: { type: 'string', default: 'greedy', choices: VERIFY_RULES, description: 'verification rule: greedy (exact match), sampling (Leviathan/Chen), block (Sun et al.)' },
};

export interface DraftModelSettings {
  gamma: number;
  schedule: 'heuristic' | 'constant';
  maxGamma: number;
  confidence: number;
  verify: VerifyRule;
}

export function draftSettings(params: ParamValues): DraftModelSettings {
  return {
    gamma: params['gamma'] as number,
    schedule: params['schedule'] as 'heuristic' | 'constant',
    maxGamma: Math.max(params['max_gamma'] as number, params['gamma'] as number),
    confidence: params['confidence'] as number,
    verify: (params['verify'] as VerifyRule | undefined) ?? 'greedy',
  };
}

/**
 * The draft-model draft-and-verify loop, shared by `speculative` (a separate draft LM) and
 * `layerskip` (the target with skipped layers). `load` gives the draft on the first step.
 */
export function draftModelStrategy(name: string, settings: DraftModelSettings, load: (session: ArSession) => Promise<Loaded<CausalModel>>): AutoregressiveStrategy {
  const lazy = new Lazy<Loaded<CausalModel>>();
  const length = new DraftLength(settings.gamma, settings.schedule, settings.maxGamma);
  let runner: DraftRunner | undefined;
  let current: ArSession | undefined;
  return {
    name,
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
      if (asked > 0) length.update(asked, proposal.tokens.length, verdict.accepted);
      return { tokens: verdict.tokens, drafted: proposal.tokens.length, accepted: verdict.accepted };
    },
    dispose: () => lazy.dispose(),
  };
}

/** Speculative decoding with the given draft model source (tests pass a scripted model via `borrowed`). */
export function createSpeculative(params: ParamValues, load?: (session: ArSession) => Promise<Loaded<CausalModel>>): AutoregressiveStrategy {
  const dir = params['draft'] as string;
  const threads = params['threads'] as number;
  const inProcess = params['in_process'] as boolean;
  return draftModelStrategy('speculative', draftSettings(params), load ?? ((session) => loadCausal('speculative', 'draft model', dir, session.model, threads, inProcess)));
}

export const speculative: AutoregressiveStrategyDefinition = {
  name: 'speculative',
  family: 'autoregressive',
  summary: 'a small draft model proposes γ tokens, the target verifies them in one forward (greedy / speculative sampling / block verification)',
  paper: 'Leviathan et al. 2023 (arXiv:2211.17192); Chen et al. 2023 (arXiv:2302.01318); block verification: Sun et al., ICLR 2025 (arXiv:2403.10444)',
  params: {
    draft: { type: 'string', default: 'tiny-ar-draft', description: 'draft model: a checkpoint directory or a built-in model name' },
    ...VERIFY_PARAM,
    ...DRAFT_PARAMS,
  },
  create: (params) => createSpeculative(params),
};
