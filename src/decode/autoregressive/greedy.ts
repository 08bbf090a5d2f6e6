/**
 * Plain autoregressive decoding: one forward pass per token, the token chosen by the session's
 * sampler (greedy when temperature is 0). The baseline of every draft-and-verify method.
 */
import { defineAutoregressiveStrategy } from './types.js';

export const greedy = defineAutoregressiveStrategy({
  name: 'greedy',
  summary: 'one token per forward pass (greedy, or sampling when temperature > 0)',
  paper: 'plain autoregressive decoding (the baseline)',
  params: {},
  create: () => ({
    async step(session) {
      const scored = await session.score();
      const token = session.choose(scored.head, scored.first);
      session.commit([token], scored.cache);
      return { tokens: [token], drafted: 0, accepted: 0 };
    },
  }),
});
