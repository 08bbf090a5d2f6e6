/**
 * The settled prefix of a canvas: the generated tokens before its first mask. Decoding can still
 * change what comes after a mask, not what comes before it (unless a self-correcting strategy
 * remasks). When an end-of-text token ends the prefix, with no mask before it, the text — cut at
 * its first end-of-text — is final.
 *
 * One definition, read by the loop's end-of-text fill (loop.ts: the masks after a final
 * end-of-text are filled for free), the API's streaming (api.ts: the settled prefix's text is
 * emitted as it grows), the strategies that predict that fill (FreeDave's drafts, the oracle) and
 * self-edit's review (the text it scores ends at its end-of-text).
 */

export interface SettledPrefix {
  /** end of the settled tokens (absolute, exclusive): the first mask or end-of-text, else the canvas end */
  readonly end: number;
  /** whether an end-of-text token at `end` ends the text (then the text is final) */
  readonly endsWithEos: boolean;
}

export function settledPrefix(canvas: Int32Array, promptLength: number, mask: number, eos: readonly number[]): SettledPrefix {
  for (let pos = promptLength; pos < canvas.length; pos++) {
    const t = canvas[pos]!;
    if (t === mask) return { end: pos, endsWithEos: false };
    if (eos.includes(t)) return { end: pos, endsWithEos: true };
  }
  return { end: canvas.length, endsWithEos: false };
}

/** Whether the text of a canvas is final: its settled prefix ends with an end-of-text token. */
export function isSettled(canvas: Int32Array, promptLength: number, mask: number, eos: readonly number[]): boolean {
  return settledPrefix(canvas, promptLength, mask, eos).endsWithEos;
}
