/**
 * AdaBlock-dLLM (Lu et al., 2025, "AdaBlock-dLLM: Semantic-Aware Diffusion LLM Inference via
 * Adaptive Block Size", 2025, ICLR 2026; no arXiv id in paradec's notes; lgxi24/AdaBlock-dLLM
 * `llada/generate_adablock.py` `compute_block_length`, `generate_adablock`).
 *
 * At the start of every block, from that step's predictions (the probe forward is also the block's
 * first step, as in the reference code):
 *   window = the next min(⌊0.25·gen_length⌋, remaining) positions from the block start;
 *   delimiters = masked window positions whose prediction is a delimiter token;
 *   if the most confident delimiter has confidence ≥ δ (0.3, the paper's LLaDA setting; 0.5 for
 *   Dream): block length = its position − block start + 1 (the block ends on the delimiter);
 *   otherwise the default block length, min(`block_length`, remaining).
 * The block is then decoded with the Fast-dLLM threshold rule (τ = 0.9, at least one per step).
 *
 * Defaults are the paper's LLaDA settings (README table and `llada/eval_adablock.sh`): δ = 0.3,
 * τ = 0.9, default block length 32, window 25% of the generation, and the newline as the only
 * delimiter. The newline is the model's own: the caller passes the tokenizer's newline token
 * (`RowView.newlineTokenIds`; api.ts finds it as the one token `\n` encodes to — 198 for LLaDA, the
 * reference's default, 4 for paradec's built-in tokenizer). `delimiters=ID,…` gives other ids
 * instead; with neither, the strategy stops and says so. `eos_delimiter=true` adds the model's
 * end-of-text ids (a paradec option, off by default as in the reference).
 *
 * The default block length is `block_length` (32) from the block start, and never past the end of
 * the loop's current block: with the run's `block_length` shorter than 32, that one rules, as the
 * reference's `init_block_length` is the run's block length.
 */
import { OptionError } from '../../errors.js';
import { parseIdList, thresholdCommit } from './helpers.js';
import { defineDiffusionStrategy, type Predictions, type RowView } from './types.js';

/**
 * The block end AdaBlock chooses at a block start (absolute canvas position, exclusive); without a
 * confident delimiter, `fallbackEnd`.
 */
export function adaptiveBlockEnd(row: RowView, pred: Predictions, delimiters: readonly number[], delta: number, windowFraction = 0.25, fallbackEnd = row.blockEnd): number {
  const start = row.blockStart;
  const remaining = row.canvas.length - start;
  const window = Math.min(Math.floor(windowFraction * row.genLength), remaining);
  let best = -1;
  for (let pos = start; pos < start + window; pos++) {
    if (row.canvas[pos] !== row.maskTokenId || !delimiters.includes(pred.tokens[pos]!)) continue;
    if (best < 0 || pred.confidence[pos]! > pred.confidence[best]!) best = pos;
  }
  if (best >= 0 && pred.confidence[best]! >= delta) return best + 1;
  return fallbackEnd;
}

export const adablock = defineDiffusionStrategy({
  name: 'adablock',
  summary: 'block ends at the most confident newline (≥ 0.3) in the next 25% of the canvas, else after 32 tokens; threshold 0.9 inside (AdaBlock-dLLM)',
  paper: 'Lu et al. 2025, AdaBlock-dLLM: Semantic-Aware Diffusion LLM Inference via Adaptive Block Size (ICLR 2026)',
  params: {
    delimiters: { type: 'string', default: null, description: "delimiter token ids, comma-separated (default: the tokenizer's newline, as the reference's 198 is LLaDA's)" },
    eos_delimiter: { type: 'boolean', default: false, description: 'count end-of-text tokens as delimiters too (not in the reference)' },
    delta: { type: 'number', default: 0.3, min: 0, max: 1, description: 'δ: delimiter confidence needed to end the block there' },
    window: { type: 'number', default: 0.25, min: 0, max: 1, description: 'look-ahead window as a fraction of gen_length' },
    block_length: { type: 'int', default: 32, min: 1, description: "default block length when no delimiter is confident (capped by the run's block_length)" },
    tau: { type: 'number', default: 0.9, min: 0, max: 1, description: 'threshold of the in-block rule (Fast-dLLM)' },
  },
  create: ({ delimiters: delimiterIds, eos_delimiter: eosToo, delta, window: windowFraction, block_length: blockLength, tau }) => {
    const given = delimiterIds === null ? null : parseIdList('adablock', 'delimiters', delimiterIds);
    return {
      chooseBlockEnd: (row, pred) => {
        const chosen = given ?? row.newlineTokenIds;
        if (chosen.length === 0 && !eosToo) throw new OptionError("adablock: the model's tokenizer has no single newline token to end blocks at; give delimiters=ID,… (or eos_delimiter=true)");
        const outside = chosen.find((id) => id >= pred.head.vocabSize);
        if (outside !== undefined) throw new OptionError(`adablock: delimiter id ${outside} is outside the model's vocabulary of ${pred.head.vocabSize} (set delimiters= to its newline id)`);
        const delimiters = eosToo ? [...chosen, ...row.eosTokenIds] : chosen;
        return adaptiveBlockEnd(row, pred, delimiters, delta, windowFraction, Math.min(row.blockEnd, row.blockStart + blockLength));
      },
      decide: (row, pred) => ({ commit: thresholdCommit(row.candidates, (pos) => pred.confidence[pos]!, tau) }),
    };
  },
});
