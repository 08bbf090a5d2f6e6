/**
 * ADED: Adaptive Draft-Verification for Efficient LLM Decoding (Liu et al., AAAI 2025,
 * arXiv:2407.12021; reference: liuxukun2000/Adaptix `DraftRetriever/src/{lib.rs,mcts_sub.rs}`,
 * `aded/model/utils.py`).
 *
 * The draft "model" is a tri-gram table (t−2, t−1) → {t: weight}. It starts from a corpus
 * datastore (aded-datastore.ts: per-bigram probabilities, the 12 most probable continuations
 * kept), as in the paper: `datastore=auto` (the default) uses `aded-datastore.safetensors` next to
 * the target's weights when there is one (the built-in tiny-ar ships one, built by
 * `paradec datastore` from task-suite text), `datastore=FILE` a given one. Before each search the
 * tri-grams inside the last 16 context tokens gain 0.04 (cap 3.0), the reference's online update.
 *
 * Each step, a Monte-Carlo tree search from the context's last bigram (aded-search.ts, the
 * reference's rules: 150 rounds with PUCT selection on raw tri-gram weights, full expansion,
 * weighted rollouts and its value, then the 24 most visited tree nodes as sentences, each with a
 * one-token greedy extension) yields draft paths of up to 4 tokens; `choices` (64) caps the sum
 * over the paths of each path's distinct tokens, dropping the paths with the most first
 * (`cut_to_choices`), and the tree keeps at most 64 nodes. The tree is verified in one target
 * forward (tree attention on paradec-compiled models, else as batched rows; see tree.ts) with
 * exact match: lossless, identical to greedy at temperature 0 and to the target's distribution
 * when sampling.
 *
 * Differences from the reference, and why:
 * - `choices` defaults to 64, what the reference's scripts pass (`--num-draft 64`,
 *   `generate_candidates_and_draft_buffer(max_num_draft=64)`); its Rust `search` falls back to 24
 *   when called without it. The cap is the reference's: Σ per-path distinct tokens, not the
 *   number of tree nodes.
 * - Reproducibility: the reference walks table rows in hash-map order and draws rollouts from an
 *   unseeded generator; paradec walks them heaviest first (ties: lower id) and draws from the
 *   session's seeded random source (see aded-search.ts for the tie rules this fixes).
 * - Sampling uses exact-match verification (lossless) instead of the paper's nucleus "typical"
 *   acceptance (top_p 0.8, lossy).
 * - Drafts are cut after an end-of-text token and to the tokens left before the length limit
 *   (tokens past either are never kept); with no draft at all the step is a plain forward (the
 *   reference then drafts the arbitrary token id 100).
 * - The table is fresh for every generation (the reference keeps one reader for a whole run, so its
 *   updates carry over from prompt to prompt; per-request tables keep a request's output cost
 *   independent of what ran before), and without any datastore (`datastore=none`, or a model that
 *   has none) the table starts from the prompt's own tri-grams at weight 1 so that drafting can
 *   begin at once.
 */
import { paramSpecs, type ParamValuesOf } from '../params.js';
import { DATASTORE_FILE } from './aded-datastore.js';
import { adedDrafts, type AdedSearchSettings } from './aded-search.js';
import { TrigramTable, type TrigramBase } from './aded-trigrams.js';
import type { ArSession } from './session.js';
import { defineAutoregressiveStrategy, type AutoregressiveStrategy } from './types.js';
import { verifyPathsExact } from './multipath.js';
import { scorePaths } from './tree.js';

/** Online updates (the reference `Reader::search`): tri-grams of the last 16 tokens gain 0.04, capped at 3.0. */
const UPDATE = { window: 16, increment: 0.04, cap: 3.0 };

/**
 * The paths a verify forward can use: each cut after its first end-of-text and to the room left
 * before the length limit (tokens past either are never kept), duplicates removed.
 */
function usablePaths(paths: readonly (readonly number[])[], room: number, eos: readonly number[]): number[][] {
  const out: number[][] = [];
  const seen = new Set<string>();
  for (const p of paths) {
    const at = p.findIndex((x) => eos.includes(x));
    const cut = p.slice(0, Math.min(room, at >= 0 ? at + 1 : p.length));
    const key = cut.join(',');
    if (cut.length === 0 || seen.has(key)) continue;
    seen.add(key);
    out.push(cut);
  }
  return out;
}

function createAded(params: ParamValuesOf<typeof ADED_PARAMS>): Omit<AutoregressiveStrategy, 'name'> {
  const datastore = params.datastore;
  let base: TrigramBase | null | undefined;
  const settings: AdedSearchSettings = { iterations: params.iterations, depth: params.depth, topK: params.top_k, choices: params.choices, c1: 32, c2: 8 };
  let table: TrigramTable | undefined;
  let current: ArSession | undefined;
  return {
    async step(session) {
      if (session !== current || !table) {
        current = session;
        if (base === undefined) base = datastore === 'none' ? null : await session.models.trigramDatastore('aded', datastore);
        table = new TrigramTable(session.model.vocabSize, base ?? undefined);
        if (!base) {
          const t = session.tokens;
          for (let i = 2; i < t.length; i++) table.add(t[i - 2]!, t[i - 1]!, t[i]!, 1);
        }
      }
      const t = session.tokens;
      for (let i = Math.max(0, t.length - UPDATE.window); i + 2 < t.length; i++) table.add(t[i]!, t[i + 1]!, t[i + 2]!, UPDATE.increment, UPDATE.cap);
      const room = session.draftRoom();
      const paths = room > 0 ? usablePaths(adedDrafts(table, t, settings, session.rng), room, session.model.eosTokenIds) : [];
      const rows = paths.length > 0 ? paths : [[]];
      const scored = await scorePaths(session, rows);
      if (paths.length > 0) session.stats.verifies += 1;
      const verdict = verifyPathsExact(rows, scored.views);
      scored.commit(verdict.tokens, verdict.row);
      return { tokens: verdict.tokens, drafted: rows[verdict.row]!.length, accepted: verdict.accepted };
    },
  };
}

const ADED_PARAMS = paramSpecs({
  iterations: { type: 'int', default: 150, min: 1, max: 10000, description: 'MCTS iterations per step' },
  depth: { type: 'int', default: 3, min: 1, max: 32, description: 'tree depth in draft tokens (the reference\'s sentence length 4 includes the root); the greedy extension adds one more' },
  top_k: { type: 'int', default: 24, min: 1, max: 1024, description: 'most visited tree nodes turned into draft paths' },
  choices: { type: 'int', default: 64, min: 1, max: 1024, description: 'cap on the sum over draft paths of their distinct tokens (the reference\'s choices; its scripts pass 64)' },
  datastore: { type: 'string', default: 'auto', description: `corpus tri-gram datastore: auto (${DATASTORE_FILE} next to the target's weights, if any), none, or a file / model directory`, names: 'datastore' },
});

export const aded = defineAutoregressiveStrategy({
  name: 'aded',
  summary: 'an online-updated tri-gram table drafts a tree by Monte-Carlo tree search; the target verifies it in one forward (tree attention, else batched rows)',
  paper: 'Liu et al., Adaptive Draft-Verification for Efficient LLM Decoding (ADED), AAAI 2025 (arXiv:2407.12021)',
  params: ADED_PARAMS,
  create: createAded,
});
