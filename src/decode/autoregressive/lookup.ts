/**
 * Prompt lookup decoding (Saxena 2023, "Prompt Lookup Decoding"; HF transformers
 * `PromptLookupCandidateGenerator`, `generate(prompt_lookup_num_tokens=10)`).
 *
 * The draft is copied from the context: for n from `max_ngram` (HF `max_matching_ngram_size`,
 * default 2) down to 1, the last n tokens are searched for earlier in the prompt and the output so
 * far; the first (earliest) occurrence that has a continuation gives up to `num_tokens` (default
 * 10) draft tokens. The draft stops just before the first end-of-text token of that continuation
 * (the end-of-text itself is not drafted), and a match whose continuation starts with end-of-text
 * gives no draft at all rather than falling back to a later or shorter match: as in HF transformers
 * `src/transformers/generation/candidate_generator.py`,
 * `PromptLookupCandidateGenerator.get_candidates` (which slices the chosen ids up to, excluding, the
 * first eos and then returns no candidates when nothing is left). The target still emits
 * end-of-text itself, as the token after the accepted draft. No draft model and no draft
 * probabilities, so verification is exact match: identical to plain greedy at temperature 0, and
 * the target's exact distribution when sampling. Without a draft the step is a plain decoding
 * step. It pays off on input-grounded tasks (copying, editing lists), where the answer repeats
 * spans of the prompt.
 */
import { defineAutoregressiveStrategy } from './types.js';
import { verifyAndCommit } from './verify.js';

/**
 * HF's rule: the continuation of the first earlier match of the longest matching tail n-gram, cut
 * before its first end-of-text token (`eos`); that match is final even when the cut leaves nothing.
 */
export function lookupDraft(context: readonly number[], maxNgram: number, numTokens: number, minNgram = 1, eos: readonly number[] = []): number[] {
  const len = context.length;
  for (let n = Math.min(maxNgram, len - 1); n >= minNgram; n--) {
    const tail = context.slice(len - n);
    for (let start = 0; start + n < len; start++) {
      let hit = true;
      for (let j = 0; j < n; j++) {
        if (context[start + j] !== tail[j]) {
          hit = false;
          break;
        }
      }
      if (!hit) continue;
      const from = start + n;
      const to = Math.min(from + numTokens, len);
      if (from >= to) continue;
      const draft = context.slice(from, to);
      const at = draft.findIndex((t) => eos.includes(t));
      return at < 0 ? draft : draft.slice(0, at);
    }
  }
  return [];
}

export const lookup = defineAutoregressiveStrategy({
  name: 'lookup',
  summary: 'prompt lookup: copy the continuation of the last n-gram\'s earlier occurrence as the draft, verify by exact match',
  paper: 'Saxena 2023, Prompt Lookup Decoding (HF transformers prompt_lookup_num_tokens)',
  params: {
    num_tokens: { type: 'int', default: 10, min: 1, max: 256, description: 'draft tokens per lookup (HF prompt_lookup_num_tokens)' },
    max_ngram: { type: 'int', default: 2, min: 1, max: 16, description: 'longest tail n-gram matched (HF max_matching_ngram_size)' },
  },
  create: ({ num_tokens: numTokens, max_ngram: maxNgram }) => ({
    async step(session) {
      const room = session.draftRoom();
      const tokens = room > 0 ? lookupDraft(session.tokens, maxNgram, Math.min(numTokens, room), 1, session.model.eosTokenIds) : [];
      const draft = { tokens };
      const verdict = await verifyAndCommit(session, draft, 'greedy');
      return { tokens: verdict.tokens, drafted: draft.tokens.length, accepted: verdict.accepted };
    },
  }),
});
