/**
 * Sequence-level knowledge distillation (`paradec train --distill-from DIR [--distill-keep valid]`).
 *
 * A draft model is only as useful as its agreement with the target: speculative decoding keeps a
 * draft token when it equals the target's own choice, not when it is correct. So the draft is
 * trained on the target's greedy answers instead of the reference answers — sequence-level KD
 * (Kim & Rush 2016, "Sequence-Level Knowledge Distillation", arXiv:1606.07947), which DistillSpec
 * (Zhou et al., ICLR 2024, arXiv:2310.08461) found to align draft models best with data the
 * target itself generated. Where the target is wrong, the draft learns the same mistake, which is
 * exactly what raises acceptance.
 *
 * The teacher is the compiled checkpoint, run by ONNX Runtime on this thread (`inProcess`) with
 * a KV cache; prompts of equal length decode together as the rows of one batch (no padding
 * needed). Greedy decoding is deterministic, so a batch still depends only on (seed, step) and a
 * resumed run sees the batches an uninterrupted one would.
 */
import { compileModel } from '../runtime/onnx-model.js';
import type { InProcessCausalModel } from '../runtime/inprocess-model.js';
import type { Encoded, SuiteData } from './data.js';

export class DistillTeacher {
  private constructor(
    readonly dir: string,
    private readonly model: InProcessCausalModel,
  ) {}

  /** Compile `dir` (a causal checkpoint with the trainer's vocabulary) for greedy relabelling. */
  static async open(dir: string, vocabSize: number, eos: number): Promise<DistillTeacher> {
    let model: InProcessCausalModel;
    try {
      model = await compileModel(dir, { inProcess: true, threads: 1, kind: 'causal' });
    } catch (e) {
      throw new Error(`--distill-from ${dir}: ${(e as Error).message}`, { cause: e });
    }
    if (model.vocabSize !== vocabSize) {
      await model.dispose();
      throw new Error(`--distill-from ${dir}: the teacher's vocabulary has ${model.vocabSize} tokens, the trainer's tokenizer ${vocabSize}; they must share one tokenizer`);
    }
    if (!model.eosTokenIds.includes(eos)) {
      await model.dispose();
      throw new Error(`--distill-from ${dir}: the teacher's end-of-text ids ${JSON.stringify(model.eosTokenIds)} do not include the tokenizer's (${eos})`);
    }
    return new DistillTeacher(dir, model);
  }

  /**
   * The teacher's greedy answer to each prompt: up to `maxTokens` tokens, ending with `eos` when
   * the teacher stops within them (an answer cut at the limit is kept as the teacher wrote it).
   */
  async answers(prompts: readonly (readonly number[])[], maxTokens: number, eos: number): Promise<number[][]> {
    const out: number[][] = prompts.map(() => []);
    const groups = new Map<number, number[]>();
    prompts.forEach((p, i) => groups.set(p.length, [...(groups.get(p.length) ?? []), i]));
    for (const [length, rows] of groups) {
      const limit = Math.min(maxTokens, this.model.maxPositions - length);
      const feed = Int32Array.from(rows.flatMap((i) => [...prompts[i]!]));
      let { head, cache } = await this.model.forward(feed, rows.length, length, this.model.emptyCache(rows.length));
      let last = length - 1;
      const done = rows.map(() => false);
      for (let t = 0; t < limit && done.some((d) => !d); t++) {
        const next = rows.map((_, r) => head.topkIds[(r * head.length + last) * head.k]!);
        next.forEach((token, r) => {
          if (done[r]) return;
          out[rows[r]!]!.push(token);
          if (token === eos) done[r] = true;
        });
        if (t + 1 >= limit || done.every((d) => d)) break;
        ({ head, cache } = await this.model.forward(Int32Array.from(next), rows.length, 1, cache));
        last = 0;
      }
    }
    return out;
  }

  /**
   * The same instances with their answers replaced by the teacher's. `validOnly`: keep the
   * reference where the task's scorer rejects the teacher's answer — for a student that should
   * be right rather than agree (a diffusion model: on a task with many valid answers the
   * teacher's one deterministic choice is easier to learn than the reference's random one, but
   * its mistakes are not worth learning).
   */
  async relabel(data: SuiteData, encoded: readonly Encoded[], maxTokens: number, validOnly: boolean): Promise<Encoded[]> {
    const answers = await this.answers(encoded.map((e) => e.prompt), maxTokens, data.eos);
    return encoded.map((e, i) => (validOnly && data.score(e, answers[i]!).score !== 1 ? e : { ...e, answer: answers[i]! }));
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}
