/**
 * How far a benched model's training got, for the report's model table and its mid-training note.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * How far the model's training got, from generation_config.json (`paradec.trainedSteps`) and the
 * model card (README.md, "| steps | A of B |") or the run's state.json. A model with a card is a
 * release: it is mid-training only when its card says so (a run stopped before the end of its
 * schedule and shipped is finished); a bare export with fewer steps than its run's schedule is a
 * snapshot of a run in progress.
 */
export function trainingStatus(dir: string): { text: string | null; mid: boolean } {
  let trained: number | null = null;
  let total: number | null = null;
  let carded = false;
  try {
    const gen = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')) as { paradec?: { trainedSteps?: number; run?: string } };
    trained = gen.paradec?.trainedSteps ?? null;
    const run = gen.paradec?.run;
    if (run) {
      for (const base of [dir, join(dir, '..', '..'), process.cwd()]) {
        const f = join(base, run, 'state.json');
        if (existsSync(f)) {
          const st = JSON.parse(readFileSync(f, 'utf8')) as { options?: { steps?: number } };
          if (typeof st.options?.steps === 'number') total = st.options.steps;
          break;
        }
      }
    }
  } catch {
    // no generation_config.json or no paradec block: not one of paradec's trained models
  }
  try {
    const card = readFileSync(join(dir, 'README.md'), 'utf8');
    carded = true;
    const m = /\|\s*steps\s*\|\s*(\d+)\s+of\s+(\d+)/.exec(card);
    if (m) {
      trained ??= Number(m[1]);
      total = Number(m[2]);
      trained = Math.max(trained, Number(m[1]));
    }
    if (/mid-training|training in progress|still training|half-trained|partially trained/i.test(card) && !(trained !== null && total !== null && trained >= total)) {
      return { text: `model card says mid-training${trained !== null ? `; trained ${trained}${total ? ` of ${total}` : ''} steps` : ''}`, mid: true };
    }
  } catch {
    // no model card
  }
  if (trained === null) return { text: null, mid: false };
  if (total === null) return { text: `trained ${trained} steps`, mid: false };
  return { text: `trained ${trained} of ${total} steps`, mid: trained < total && !carded };
}
