/**
 * Prompt lookup decoding (Saxena 2023, "Prompt Lookup Decoding"; HF transformers
 * `PromptLookupCandidateGenerator`, `generate(prompt_lookup_num_tokens=10)`).
 *
 * The draft is copied from the context: for n from `max_ngram` (HF `max_matching_ngram_size`,
 * default 2) down to 1, the last n tokens are searched for earlier in the prompt and the output so
 * far; the first (earliest) occurrence that has a continuation gives up to `num_tokens` (default
 * 10) draft tokens, cut after an end-of-text token. No draft model and no draft probabilities, so
 * verification is exact match: identical to plain greedy at temperature 0, and the target's exact
 * distribution when sampling. Without a match the step is a plain decoding step. It pays off on
 * input-grounded tasks (copying, editing lists), where the answer repeats spans of the prompt.
 */
import { defineAutoregressiveStrategy } from './types.js';
import { cutAtEos, verifyAndCommit } from './verify.js';

/** HF's rule: the continuation of the first earlier match of the longest matching tail n-gram. */
export function lookupDraft(context: readonly number[], maxNgram: number, numTokens: number, minNgram = 1): number[] {
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
      if (from < to) return context.slice(from, to);
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
      const tokens = room > 0 ? lookupDraft(session.tokens, maxNgram, Math.min(numTokens, room)) : [];
      const draft = cutAtEos({ tokens }, session.model.eosTokenIds);
      const verdict = await verifyAndCommit(session, draft, 'greedy');
      return { tokens: verdict.tokens, drafted: draft.tokens.length, accepted: verdict.accepted };
    },
  }),
});
