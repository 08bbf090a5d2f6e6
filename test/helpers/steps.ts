/**
 * Run the denoising loop to its end, keeping every step event and the results. The loop's event
 * canvases are live views; each kept event has a copy of the canvas as it was after that step.
 */
import type { DiffusionRowResult, StepEvent } from '../../src/decode/diffusion/loop.js';

export async function collectSteps(gen: AsyncGenerator<StepEvent, DiffusionRowResult[]>): Promise<{ events: StepEvent[]; results: DiffusionRowResult[] }> {
  const events: StepEvent[] = [];
  for (;;) {
    const n = await gen.next();
    if (n.done) return { events, results: n.value };
    events.push({ ...n.value, canvas: n.value.canvas.slice() });
  }
}
