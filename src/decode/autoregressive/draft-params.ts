/**
 * The parameters the draft-model strategies share, declared once and spread into each
 * strategy's specs (speculative, multipath, PEARL, layer-skip; anchored and DEER take their
 * model's threads), and the readers that turn their values into settings and model requests.
 */
import { paramSpecs, type ParamSpec, type ParamValuesOf } from '../params.js';
import type { ModelRequest } from './extra-models.js';
import { VERIFY_RULES, type VerifyRule } from './verify.js';

/** ORT threads of a strategy's extra model (`what`: "the draft model", "the drafter"). */
export function threadsParam(what: string) {
  return { type: 'int', default: 1, min: 0, max: 256, description: `ORT threads of ${what} (0 = ORT default)`, hostSetting: true } as const satisfies ParamSpec;
}

/** The draft LM (speculative, multipath, PEARL). */
export const DRAFT_MODEL_PARAMS = paramSpecs({
  draft: { type: 'string', default: 'tiny-ar-draft', description: 'draft model: a checkpoint directory or a built-in model name', names: 'model' },
});

/** How the draft-model loop drafts and verifies (speculative, layer-skip). */
export const DRAFT_LOOP_PARAMS = paramSpecs({
  verify: { type: 'string', default: 'greedy', choices: VERIFY_RULES, description: 'verification rule: greedy (exact match), sampling (Leviathan/Chen), block (Sun et al.)' },
  gamma: { type: 'int', default: 5, min: 1, max: 128, description: 'draft tokens per round to start with (γ)' },
  schedule: { type: 'string', default: 'heuristic', choices: ['heuristic', 'constant'], description: 'draft length schedule: heuristic = +2 on full accept, −1 on reject (HF)' },
  max_gamma: { type: 'int', default: 32, min: 1, max: 256, description: 'upper bound of the adaptive draft length' },
  confidence: { type: 'number', default: 0.4, min: 0, max: 1, description: 'stop drafting after a token the draft gives less than this probability (0 = never)' },
});

/** Where the draft model runs (speculative, multipath, PEARL, layer-skip). */
export const DRAFT_RUN_PARAMS = paramSpecs({
  threads: threadsParam('the draft model'),
  in_process: { type: 'boolean', default: true, description: 'run the draft model on the calling thread (no worker hop per draft token)' },
});

export interface DraftModelSettings {
  gamma: number;
  schedule: 'heuristic' | 'constant';
  maxGamma: number;
  confidence: number;
  verify: VerifyRule;
}

/** The draft-model loop's settings from its parameters. */
export function draftSettings(params: ParamValuesOf<typeof DRAFT_LOOP_PARAMS>): DraftModelSettings {
  return {
    gamma: params.gamma,
    schedule: params.schedule,
    maxGamma: Math.max(params.max_gamma, params.gamma),
    confidence: params.confidence,
    verify: params.verify,
  };
}

/** The request for a strategy's draft LM (`ExtraModels.causal`) from its parameters. */
export function draftModelRequest(owner: string, params: ParamValuesOf<typeof DRAFT_MODEL_PARAMS & typeof DRAFT_RUN_PARAMS>): ModelRequest {
  return { owner, what: 'draft model', model: params.draft, threads: params.threads, inProcess: params.in_process };
}
