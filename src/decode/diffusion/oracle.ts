/**
 * Oracle parallel decoding — a measurement device, not a decoder. It is the "Extremely Greedy
 * Parallel" oracle of Learn2PD (2025, "Learning to Parallel: Accelerating Diffusion
 * Large Language Models via Adaptive Parallel Decoding", arXiv:2509.25188,
 * ims-kdks/Learning-to-Parallel-Decoding `generate_training_data.py`): given the final answer of
 * the one-token-per-step run (`confidence`, k = 1), commit every masked position of the block as
 * soon as the current prediction equals that answer. It measures how few forward passes would
 * have sufficed for this instance had the decoder known which predictions were already final.
 *
 * Rule per step: commit {masked block positions whose prediction == reference}; when there is none,
 * commit the most confident masked position (as the baseline would) with its REFERENCE token (the
 * Learn2PD script instead writes the whole block's reference after a stalled step). The output is
 * therefore the reference — the baseline's output — by construction, and a forced commit is counted
 * in `stats.forced`. When the commits settle the text (an end-of-text with no mask before it) and the
 * loop fills the rest with end-of-text (`eosFill`, default on), the remaining masks get their
 * reference tokens instead, so that the output equals the baseline's token for token, tail included.
 *
 * The reference is per row, so it is given programmatically (`createOracle`) or, on the command
 * line, as `reference=ID,ID,…` (the generation region's ids, used for every row). `runOracle` runs
 * the baseline and then the oracle pass and returns both forward-pass counts.
 */
import type { BidirectionalModel } from '../../runtime/types.js';
import { OptionError } from '../../errors.js';
import { confidence } from './confidence.js';
import { maskedIn, parseIdList } from './helpers.js';
import { isSettled } from './settled.js';
import { returnValue } from '../drain.js';
import { runDiffusion, type DiffusionOptions, type DiffusionRowResult } from './loop.js';
import { defineDiffusionStrategy, type DiffusionStrategy } from './types.js';

export interface OracleStats {
  /** per row: steps at which nothing matched the reference and a token was forced */
  forced: number[];
  /** per row: commits whose prediction matched the reference */
  matched: number[];
}

export interface OracleOptions {
  /** per row: the reference generation region (genLength ids), i.e. the baseline's `generated` */
  references: readonly (readonly number[])[];
  /**
   * Emulate the loop's end-of-text fill with reference tokens (set it to the run's `eosFill`,
   * default true) so the output equals the reference exactly.
   */
  fillSettledTail?: boolean;
}

export function createOracle(options: OracleOptions): DiffusionStrategy & { readonly stats: OracleStats } {
  const fillTail = options.fillSettledTail ?? true;
  const stats: OracleStats = { forced: [], matched: [] };
  const refOf = (row: number, genLength: number): readonly number[] => {
    const ref = options.references[row] ?? (options.references.length === 1 ? options.references[0] : undefined);
    if (!ref) throw new OptionError(`oracle: no reference answer for row ${row} (use runOracle, or reference=ID,... for a single prompt)`);
    if (ref.length !== genLength) throw new OptionError(`oracle: the reference of row ${row} has ${ref.length} tokens, gen_length is ${genLength}`);
    return ref;
  };
  return {
    name: 'oracle',
    stats,
    begin: (row) => {
      refOf(row.row, row.genLength);
      stats.forced[row.row] = 0;
      stats.matched[row.row] = 0;
    },
    decide: (row, pred) => {
      const ref = refOf(row.row, row.genLength);
      const refAt = (pos: number) => ref[pos - row.promptLength]!;
      const commit = row.candidates.filter((pos) => pred.tokens[pos] === refAt(pos));
      stats.matched[row.row] = (stats.matched[row.row] ?? 0) + commit.length;
      if (commit.length === 0) {
        let best = row.candidates[0]!;
        for (const pos of row.candidates) if (pred.confidence[pos]! > pred.confidence[best]!) best = pos;
        commit.push(best);
        stats.forced[row.row] = (stats.forced[row.row] ?? 0) + 1;
      }
      if (fillTail) {
        const after = row.canvas.slice();
        for (const pos of commit) after[pos] = refAt(pos);
        if (!isSettled(row.canvas, row.promptLength, row.maskTokenId, row.eosTokenIds) && isSettled(after, row.promptLength, row.maskTokenId, row.eosTokenIds)) {
          for (const pos of maskedIn(after, row.maskTokenId, row.promptLength, after.length)) commit.push(pos);
        }
      }
      return { commit, tokens: commit.map(refAt) };
    },
  };
}

export const oracle = defineDiffusionStrategy({
  name: 'oracle',
  summary: 'measurement: commit each position once its prediction equals the k=1 baseline answer (needs the reference)',
  paper: 'Learn2PD oracle ("Extremely Greedy Parallel"), Learning to Parallel (arXiv:2509.25188)',
  params: {
    reference: { type: 'string', default: null, description: 'the baseline answer as comma-separated token ids of the generation region (every row); the bench uses runOracle instead' },
  },
  create: ({ reference }) => {
    const ref = parseIdList('oracle', 'reference', reference);
    return createOracle({ references: ref.length > 0 ? [ref] : [] });
  },
});

export interface OracleRun {
  baseline: DiffusionRowResult[];
  oracle: DiffusionRowResult[];
  /** per row: forward passes of the baseline and of the oracle pass */
  baselineNfe: number[];
  oracleNfe: number[];
  stats: OracleStats;
}

/**
 * Run the one-token-per-step baseline (`confidence`, k = 1), then the oracle pass with its answers
 * as references. Both runs use the same options; the oracle's output equals the baseline's.
 */
export async function runOracle(
  model: BidirectionalModel,
  prompts: readonly (readonly number[])[],
  options: DiffusionOptions & { eosTokenIds: readonly number[] },
): Promise<OracleRun> {
  const { eosTokenIds, ...loopOptions } = options;
  const drain = (strategy: DiffusionStrategy) => returnValue(runDiffusion(model, prompts, strategy, eosTokenIds, loopOptions));
  const baseline = await drain(confidence.create({ k: 1 }));
  const strategy = createOracle({ references: baseline.map((r) => r.generated), fillSettledTail: loopOptions.eosFill ?? true });
  const result = await drain(strategy);
  return {
    baseline,
    oracle: result,
    baselineNfe: baseline.map((r) => r.nfe),
    oracleNfe: result.map((r) => r.nfe),
    stats: strategy.stats,
  };
}
