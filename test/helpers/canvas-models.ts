/**
 * Scripted models whose predictions depend on the canvas, for strategies whose guarantees are
 * about whole trajectories (FreeDave's losslessness, the oracle's output): a wrong draft or a
 * different commit order changes what the model predicts next.
 */
import type { RowScript } from './scripted-model.js';

export const V = 16;
export const MASK = 15;
export const EOS = 14;

function mix(h: number, v: number): number {
  h ^= v + 0x9e3779b9 + (h << 6) + (h >>> 2);
  return Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
}

/**
 * Pseudo-random logits per position, a hash of (seed, position, the tokens within `window`
 * positions of it — or the whole canvas when window is null). Generation positions from `eosFrom`
 * on lean towards end-of-text. The mask token is never predicted.
 */
export function hashScript(seed: number, promptLength: number, options: { window?: number | null; eosFrom?: number; sharpness?: number } = {}): RowScript {
  const window = options.window === undefined ? 2 : options.window;
  const sharp = options.sharpness ?? 6;
  return (tokens) => {
    const L = tokens.length;
    const out = new Float32Array(L * V);
    for (let i = 0; i < L; i++) {
      let h = mix(seed >>> 0, i);
      const from = window === null ? 0 : Math.max(0, i - window);
      const to = window === null ? L : Math.min(L, i + window + 1);
      for (let j = from; j < to; j++) if (j !== i) h = mix(h, tokens[j]! * 131 + j);
      const scale = 1 + (mix(h, 999) % 1000) / 1000 * sharp;
      for (let v = 0; v < V; v++) out[i * V + v] = (scale * (mix(h, v) % 10000)) / 10000 * 3;
      out[i * V + MASK] = -30;
      if (options.eosFrom !== undefined && i - promptLength >= options.eosFrom) out[i * V + EOS] = out[i * V + EOS]! + 4;
    }
    return out;
  };
}

/**
 * A left-to-right language with a fixed answer f(g): position g predicts f(g) — confidently
 * (p ≈ 0.9) once the token before it is there, unsurely (≈ 0.4) before — and something else when the
 * token before it is not f(g−1). From `eosAt` on the answer is end-of-text.
 */
export function chainScript(promptLength: number, eosAt = Infinity): RowScript {
  const f = (g: number) => (g >= eosAt ? EOS : 1 + ((g * 5) % 13));
  return (tokens) => {
    const L = tokens.length;
    const out = new Float32Array(L * V);
    for (let i = 0; i < L; i++) {
      const g = i - promptLength;
      const prev = i > 0 ? tokens[i - 1]! : 0;
      const known = g <= 0 || prev !== MASK;
      const tok = g <= 0 || prev === MASK || prev === f(g - 1) ? f(g) : 1 + ((prev * 7 + g) % 13);
      const p = known ? 0.9 - 0.001 * g : 0.4 - 0.001 * g;
      for (let v = 0; v < V; v++) out[i * V + v] = Math.log((1 - p) / (V - 2));
      out[i * V + tok] = Math.log(p);
      out[i * V + MASK] = -30;
    }
    return out;
  };
}
