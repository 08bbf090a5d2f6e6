/**
 * The canvas stream (`"paradec_canvas": true` with `"stream": true`): each chunk of a diffusion
 * generation carries a `paradec_canvas` frame saying which canvas positions the forward pass
 * committed, with their tokens, and which it turned back into masks. Frames ride inside
 * ordinary completion chunks (empty text), so every OpenAI client still parses the stream and
 * a visualiser needs nothing but the frames:
 *
 *   {step: 0, length: 32, committed: [], remasked: []}                       before the first pass
 *   {step: 3, length: 32, committed: [{position: 5, token: 17, text: " Payne"}], remasked: []}
 *   {step: 9, length: 32, done: true, committed_at: [3, 1, …, -1]}           with the last chunk
 *
 * Positions count from the start of the generated region (0 = first generated token).
 * `committed_at[i]` is the step that committed position i for good (-1: never committed).
 */
import type { GenerationEvent } from '../api.js';

export interface CanvasFrame {
  /** forward passes so far */
  step: number;
  /** generated-region length (masked cells before the first pass) */
  length: number;
  committed: { position: number; token: number; text: string }[];
  remasked: number[];
  done?: true;
  committed_at?: number[];
}

export function canvasStart(length: number): CanvasFrame {
  return { step: 0, length, committed: [], remasked: [] };
}

export function canvasStep(ev: Extract<GenerationEvent, { type: 'step' }>, length: number): CanvasFrame {
  return { step: ev.nfe, length, committed: ev.committed, remasked: ev.remasked };
}

export function canvasEnd(nfe: number, length: number, committedAt: readonly number[] | undefined): CanvasFrame {
  const frame: CanvasFrame = { step: nfe, length, committed: [], remasked: [], done: true };
  if (committedAt) frame.committed_at = [...committedAt];
  return frame;
}
