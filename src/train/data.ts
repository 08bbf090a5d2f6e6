/**
 * Training and evaluation data: task-suite instances, tokenized the way paradec's runtime sees
 * them — `promptText(prompt)` (the prompt plus one "\n"), then the answer, then end-of-text.
 *
 * Every training step draws fresh instances from `Rng(seedFrom(seed, 'batch', step))`, so a
 * batch depends only on (seed, step): a resumed run sees exactly the batches an uninterrupted
 * run would. The held-out set comes from a different seed stream.
 */
import { Rng, seedFrom } from '../tasks/rng.js';
import { promptText } from '../tasks/format.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import { sampleInstance, scoreInstance, SUITE_TASKS, type SuiteInstance } from './suite.js';
import type { Objective, Sequence } from './objective.js';

export interface Encoded {
  instance: SuiteInstance;
  prompt: number[];
  /** answer tokens followed by one end-of-text */
  answer: number[];
}

export class SuiteData {
  readonly eos: number;
  readonly pad: number;
  readonly mask: number;
  private warned = false;

  constructor(readonly tokenizer: TextTokenizer, readonly tasks: readonly string[] = SUITE_TASKS, readonly taskWeights: readonly number[] | null = null) {
    const eos = tokenizer.eos?.id;
    if (eos === undefined) throw new Error(`tokenizer in ${tokenizer.dir} has no eos token`);
    this.eos = eos;
    this.pad = tokenizer.pad?.id ?? eos;
    this.mask = tokenizer.mask?.id ?? -1;
  }

  encode(instance: SuiteInstance): Encoded {
    const ptext = promptText(instance.prompt);
    const prompt = this.tokenizer.encode(ptext, { addSpecialTokens: false });
    const joint = this.tokenizer.encode(ptext + instance.answer, { addSpecialTokens: false });
    let answer: number[];
    if (joint.length >= prompt.length && prompt.every((id, i) => joint[i] === id)) answer = joint.slice(prompt.length);
    else {
      if (!this.warned) {
        process.stderr.write(`warning: tokenizing prompt+answer does not extend the prompt's tokens; encoding the answer separately\n`);
        this.warned = true;
      }
      answer = this.tokenizer.encode(instance.answer, { addSpecialTokens: false });
    }
    return { instance, prompt, answer: [...answer, this.eos] };
  }

  private pickTask(rng: Rng): string {
    if (!this.taskWeights) return rng.choice(this.tasks);
    const total = this.taskWeights.reduce((a, b) => a + b, 0);
    let r = rng.float() * total;
    for (let i = 0; i < this.tasks.length; i++) {
      r -= this.taskWeights[i]!;
      if (r < 0) return this.tasks[i]!;
    }
    return this.tasks[this.tasks.length - 1]!;
  }

  /** The training instances of step `step` (for diffusion, only answers that fit in `canvas`). */
  trainInstances(seed: number, step: number, batch: number, objective: Objective, canvas: number): Encoded[] {
    const rng = new Rng(seedFrom(seed, 'batch', step));
    const out: Encoded[] = [];
    while (out.length < batch) {
      const e = this.encode(sampleInstance(this.pickTask(rng), rng));
      if (objective === 'diffusion' && e.answer.length > canvas) continue; // cannot be generated in the canvas; never happens for the suite
      out.push(e);
    }
    return out;
  }

  /** What the objective trains on: for diffusion the answer padded with end-of-text to `canvas`. */
  sequence(e: Encoded, objective: Objective, canvas: number): Sequence {
    if (objective === 'causal') return { prompt: e.prompt, answer: e.answer };
    const a = e.answer.slice(0, canvas);
    while (a.length < canvas) a.push(this.eos);
    return { prompt: e.prompt, answer: a };
  }

  /** A fixed held-out set: `perTask` instances of every task from stream (seed, 'heldout'). */
  heldOut(seed: number, perTask: number): Encoded[] {
    const out: Encoded[] = [];
    for (const task of this.tasks) {
      const rng = new Rng(seedFrom(seed, 'heldout', task));
      for (let i = 0; i < perTask; i++) out.push(this.encode(sampleInstance(task, rng)));
    }
    return out;
  }

  /** Decode generated ids (up to the first end-of-text) and score them with the suite scorer. */
  score(e: Encoded, generated: number[]): { text: string; score: number } {
    const cut = generated.indexOf(this.eos);
    const ids = cut >= 0 ? generated.slice(0, cut) : generated;
    const text = this.tokenizer.decode(ids.filter((id) => id !== this.mask && id !== this.pad), { skipSpecialTokens: true });
    return { text, score: scoreInstance(e.instance, text) };
  }
}
