/**
 * AdaBlock-dLLM (Lu et al., 2025, "AdaBlock-dLLM: Semantic-Aware Diffusion LLM Inference via
 * Adaptive Block Size", 2025, ICLR 2026; no arXiv id in paradec's notes; lgxi24/AdaBlock-dLLM
 * `llada/generate_adablock.py` `compute_block_length`).
 *
 * At the start of every block, from that step's predictions (the probe forward is also the block's
 * first step, as in the reference code):
 *   window = the next min(⌊0.25·gen_length⌋, remaining) positions from the block start;
 *   delimiters = masked window positions whose argmax is a delimiter token;
 *   if the most confident delimiter has confidence ≥ δ (0.3, the paper's LLaDA setting; 0.5 for
 *   Dream): block length = its position − block start + 1 (the block ends on the delimiter);
 *   otherwise the default block length (the run's `block_length`; without semi-AR blocks that is
 *   the whole remaining generation region).
 * The block is then decoded with the Fast-dLLM threshold rule (τ = 0.9, at least one per step).
 *
 * Delimiters: the paper uses the newline token (LLaDA id 198; Dream a list of 24 ids). Strategies
 * do not see the tokenizer, so they are given as ids: `delimiters=ID,ID,…` (for paradec's built-in
 * tokenizer the newline is id 4). The model's end-of-text ids are always delimiters too (unless
 * `eos_delimiter=false`): an end of text is the strongest semantic boundary there is. With no
 * `delimiters` given, the end-of-text ids are the only delimiters.
 */
import { parseIdList, thresholdCommit } from './helpers.js';
import { defineDiffusionStrategy, type Predictions, type RowView } from './types.js';

/** The block end AdaBlock chooses at a block start (absolute canvas position, exclusive). */
export function adaptiveBlockEnd(row: RowView, pred: Predictions, delimiters: readonly number[], delta: number, windowFraction = 0.25): number {
  const start = row.blockStart;
  const remaining = row.canvas.length - start;
  const window = Math.min(Math.floor(windowFraction * row.genLength), remaining);
  let best = -1;
  for (let pos = start; pos < start + window; pos++) {
    if (row.canvas[pos] !== row.maskTokenId || !delimiters.includes(pred.tokens[pos]!)) continue;
    if (best < 0 || pred.confidence[pos]! > pred.confidence[best]!) best = pos;
  }
  if (best >= 0 && pred.confidence[best]! >= delta) return best + 1;
  return row.blockEnd;
}

export const adablock = defineDiffusionStrategy({
  name: 'adablock',
  summary: 'block ends at the most confident delimiter (≥ 0.3) in the next 25% of the canvas; threshold 0.9 inside (AdaBlock-dLLM)',
  paper: 'Lu et al. 2025, AdaBlock-dLLM: Semantic-Aware Diffusion LLM Inference via Adaptive Block Size (ICLR 2026)',
  params: {
    delimiters: { type: 'string', default: null, description: 'delimiter token ids, comma-separated (e.g. the newline id; built-in tokenizer: 4); end-of-text ids are added' },
    eos_delimiter: { type: 'boolean', default: true, description: 'count end-of-text tokens as delimiters' },
    delta: { type: 'number', default: 0.3, min: 0, max: 1, description: 'δ: delimiter confidence needed to end the block there' },
    window: { type: 'number', default: 0.25, min: 0, max: 1, description: 'look-ahead window as a fraction of gen_length' },
    tau: { type: 'number', default: 0.9, min: 0, max: 1, description: 'threshold of the in-block rule (Fast-dLLM)' },
  },
  create: ({ delimiters: delimiterIds, eos_delimiter: eosToo, delta, window: windowFraction, tau }) => {
    const given = parseIdList('adablock', 'delimiters', delimiterIds);
    return {
      chooseBlockEnd: (row, pred) => {
        const delimiters = eosToo ? [...given, ...row.eosTokenIds] : given;
        return adaptiveBlockEnd(row, pred, delimiters, delta, windowFraction);
      },
      decide: (row, pred) => ({ commit: thresholdCommit(row.candidates, (pos) => pred.confidence[pos]!, tau) }),
    };
  },
});
