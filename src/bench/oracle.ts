/**
 * The `oracle` strategy's rows: Learn2PD's "extremely greedy parallel" oracle on one instance of a
 * diffusion model. Its references are the model's own one-token-per-step answer, which no
 * `strategyOptions` can carry, so this runs the two passes on the diffusion loop itself.
 */
import { diffusionScheduleOf } from '../model/architectures.js';
import { encodePrompt, textUntilEos, type GenerateOptions } from '../api.js';
import { runDiffusion, type DiffusionOptions } from '../decode/diffusion/loop.js';
import { createOracle } from '../decode/diffusion/oracle.js';
import { oneTokenPerStepNll } from '../decode/diffusion/ete.js';
import { returnValue } from '../decode/drain.js';
import type { BidirectionalModel } from '../runtime/types.js';
import { scoreAnswer, type TaskInstance } from '../tasks/suite.js';
import { Rng, seedFrom } from '../tasks/rng.js';
import { ForwardLimit, forwardLimit, type GuardedModel } from './forward-limit.js';
import type { ResultRow } from './types.js';

/** The measured fields of an oracle row. */
export type OracleFields = Pick<ResultRow, 'output' | 'score' | 'nfe' | 'work' | 'tokens' | 'tokensPerForward' | 'ms' | 'nll' | 'nllTokens' | 'referenceWork' | 'schedule' | 'stopped'>;

/**
 * The oracle on one instance: the one-token-per-step (`confidence`, k = 1) run, scored for its
 * likelihood (ETE's `oneTokenPerStepNll`), then the oracle pass with that answer as the reference
 * (`createOracle`, exactly `runOracle`'s second pass: the same two passes, with the likelihood
 * read off the first). The row's time and work are the oracle pass's; `referenceWork` is the
 * one-token-per-step run's, the bench's baseline for the work of every setting on this instance.
 */
export async function oracleRow(guard: GuardedModel, inst: TaskInstance, gen: GenerateOptions, seed: number): Promise<OracleFields> {
  const model = guard.model;
  const runtime = model.runtime as BidirectionalModel;
  const ids = encodePrompt(model, inst.prompt);
  const loop: DiffusionOptions = {
    genLength: gen.genLength!,
    temperature: 0,
    cfgScale: 0,
    eosFill: gen.eosFill ?? true,
    schedule: diffusionScheduleOf(model.config.architecture),
    rng: new Rng(seedFrom(seed, inst.id)),
  };
  if (gen.steps !== undefined) loop.steps = gen.steps;
  if (gen.blockLength !== undefined) loop.blockLength = gen.blockLength;
  let base: Awaited<ReturnType<typeof oneTokenPerStepNll>>;
  guard.arm(forwardLimit(loop.genLength));
  try {
    base = await oneTokenPerStepNll(runtime, [ids], { ...loop, eosTokenIds: model.eosTokenIds });
  } catch (e) {
    if (!(e instanceof ForwardLimit)) throw e;
    return { output: '', score: 0, nfe: guard.used(), work: guard.usedWork(), tokens: 0, tokensPerForward: 0, ms: 0, stopped: `the one-token-per-step reference run: ${e.message}` };
  }
  const strategy = createOracle({ references: base.generated, fillSettledTail: true });
  const started = performance.now();
  guard.arm(forwardLimit(loop.genLength));
  let result;
  try {
    result = (await returnValue(runDiffusion(runtime, [ids], strategy, model.eosTokenIds, loop)))[0]!;
  } catch (e) {
    if (!(e instanceof ForwardLimit)) throw e;
    return { output: '', score: 0, nfe: guard.used(), work: guard.usedWork(), tokens: 0, tokensPerForward: 0, ms: performance.now() - started, stopped: e.message, referenceWork: base.work[0]! };
  }
  const ms = performance.now() - started;
  const { text, tokens, ended } = textUntilEos(model, result.generated);
  const produced = tokens + (ended ? 1 : 0);
  return {
    output: text,
    score: scoreAnswer(inst, text),
    nfe: result.nfe,
    work: result.work,
    tokens: produced,
    tokensPerForward: result.nfe > 0 ? produced / result.nfe : 0,
    ms,
    nll: base.nll[0]!,
    nllTokens: base.nfe[0]!,
    referenceWork: base.work[0]!,
    schedule: result.schedule,
  };
}
