/**
 * DEER: Draft with Diffusion, Verify with Autoregressive Models (2025,
 * arXiv:2512.15176).
 *
 * A diffusion LM (`drafter=DIR`, default the built-in `tiny-dlm`) drafts a whole block in a single
 * denoising pass: it reads the context followed by `block` mask tokens and proposes, for every
 * masked position at once, its most likely token (or a sample from its marginal when the target
 * samples). The autoregressive target verifies the block in one forward. Verification is exact
 * match at temperature 0 (identical to plain greedy) and speculative sampling otherwise, where
 * q_i is the drafter's marginal at position i: drafts drawn independently from the marginals are
 * a valid draft distribution, so the output is exactly the target's distribution (the paper's
 * lossless draft-then-verify, its App. E).
 *
 * Defaults: the paper drafts up to 32 tokens per pass with drafters aligned to the target by
 * two-stage distillation; paradec's `tiny-dlm` is trained on the same task suite but not
 * distilled from `tiny-ar`, and its answers are short, so `block` defaults to 16. The draft is cut
 * after an end-of-text token and never contains the mask token.
 */
import { InputError } from '../../errors.js';
import type { BidirectionalModel } from '../../runtime/types.js';
import { paramSpecs, type ParamValuesOf } from '../params.js';
import { threadsParam } from './draft-params.js';
import { Lazy, type Loaded } from './extra-models.js';
import { drawCategorical, samplingDistribution } from './sampling.js';
import type { ArSession } from './session.js';
import { defineAutoregressiveStrategy, type AutoregressiveStrategy } from './types.js';
import { cutAtEos, VERIFY_RULES, verifyAndCommit, type Draft } from './verify.js';

/** One denoising pass of the drafter over context + `block` masks → a draft block. */
export async function diffusionDraft(drafter: BidirectionalModel, context: readonly number[], block: number, session: ArSession, probabilities: boolean): Promise<Draft> {
  const n = Math.min(block, drafter.maxPositions - context.length);
  if (n <= 0) return { tokens: [] };
  const mask = drafter.maskTokenId;
  if (context.includes(mask)) throw new InputError(`deer: the context contains the drafter's mask token ${mask}`);
  const length = context.length + n;
  const canvas = new Int32Array(length).fill(mask);
  canvas.set(context);
  const head = await drafter.forward(canvas, 1, length, { logits: probabilities });
  const V = head.vocabSize;
  const draft: Draft = { tokens: [] };
  if (probabilities) draft.q = [];
  for (let i = 0; i < n; i++) {
    const pos = context.length + i;
    if (probabilities) {
      const q = samplingDistribution(head.logits!, pos * V, V, session.sampling);
      if (q[mask]! > 0) {
        const keep = 1 - q[mask]!;
        q[mask] = 0;
        for (let v = 0; v < V; v++) q[v] = keep > 0 ? q[v]! / keep : 0;
      }
      draft.tokens.push(drawCategorical(q, session.rng));
      draft.q!.push(q);
    } else {
      let token = -1;
      for (let j = 0; j < head.k; j++) {
        const id = head.topkIds[pos * head.k + j]!;
        if (id !== mask) {
          token = id;
          break;
        }
      }
      if (token < 0) break;
      draft.tokens.push(token);
    }
  }
  return draft;
}

function createDeer(params: ParamValuesOf<typeof DEER_PARAMS>): Omit<AutoregressiveStrategy, 'name'> {
  const { block, verify: rule } = params;
  const lazy = new Lazy<Loaded<BidirectionalModel>>();
  return {
    async step(session) {
      const drafter = await lazy.get(() => session.models.bidirectional({ owner: 'deer', what: 'drafter', model: params.drafter, threads: params.threads }));
      const n = Math.min(block, session.draftRoom());
      const probabilities = !session.greedy && rule !== 'greedy';
      let draft: Draft = { tokens: [] };
      if (n > 0) {
        draft = cutAtEos(await diffusionDraft(drafter.model, session.tokens, n, session, probabilities), session.model.eosTokenIds);
        session.stats.draftForwards += 1;
      }
      const verdict = await verifyAndCommit(session, draft, rule);
      return { tokens: verdict.tokens, drafted: draft.tokens.length, accepted: verdict.accepted };
    },
    dispose: () => lazy.dispose(),
  };
}

const DEER_PARAMS = paramSpecs({
  drafter: { type: 'string', default: 'tiny-dlm', description: 'diffusion drafter: a checkpoint directory or a built-in model name', names: 'model' },
  block: { type: 'int', default: 16, min: 1, max: 256, description: 'tokens drafted per denoising pass' },
  verify: { type: 'string', default: 'greedy', choices: VERIFY_RULES, description: 'verification rule: greedy (exact match), sampling, block' },
  threads: threadsParam('the drafter'),
});

export const deer = defineAutoregressiveStrategy({
  name: 'deer',
  summary: 'a diffusion LM drafts a block in one denoising pass, the autoregressive target verifies it',
  paper: 'DEER: Draft with Diffusion, Verify with Autoregressive Models, 2025 (arXiv:2512.15176)',
  params: DEER_PARAMS,
  create: createDeer,
});
