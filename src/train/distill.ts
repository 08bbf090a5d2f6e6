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
 * A causal teacher is the compiled checkpoint, run by ONNX Runtime on this thread (`inProcess`)
 * with a KV cache. A diffusion teacher decodes greedily left to right, one token per forward, over
 * a canvas of masks: a diffusion student trained on such answers learns its own most coherent
 * answers — dParallel's certainty-forcing distillation trains on the model's own trajectories
 * for the same reason ("dParallel: Learnable Parallel Decoding for dLLMs", 2025, czg1225/dParallel;
 * left to right because on tasks whose tokens depend on each other tiny-dlm is far more often
 * right in that order than in its confidence order: 89 vs 60 on the four random tasks, `paradec
 * bench --strategies confidence,left-to-right --tasks shuffle,replace_random,insert_random,remove_random`).
 *
 * Several teachers (`--distill-from A,B`): with `--distill-keep valid` an instance takes the first
 * teacher's answer that the task's scorer accepts (later teachers only decode the rest), else the
 * reference; without it, the first teacher's answer. Prompts of equal length decode together as
 * the rows of one batch (no padding needed). Greedy decoding is deterministic, so a batch still
 * depends only on (seed, step) and a resumed run sees the batches an uninterrupted one would.
 */
import { loadCheckpoint } from '../model/checkpoint.js';
import type { OnnxBidirectionalModel } from '../runtime/bidirectional-model.js';
import { compileModel } from '../runtime/compile-model.js';
import type { InProcessCausalModel } from '../runtime/inprocess-model.js';
import type { Encoded, SuiteData } from './data.js';

/** One teacher checkpoint: greedy answers to prompts. */
interface TeacherModel {
  readonly dir: string;
  answers(prompts: readonly (readonly number[])[], maxTokens: number, eos: number): Promise<number[][]>;
  dispose(): Promise<void>;
}

/** Indices of `prompts` grouped by prompt length (each group decodes as one unpadded batch). */
function byLength(prompts: readonly (readonly number[])[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  prompts.forEach((p, i) => groups.set(p.length, [...(groups.get(p.length) ?? []), i]));
  return groups;
}

/** Greedy autoregressive answers with a KV cache, on the calling thread. */
class CausalTeacher implements TeacherModel {
  constructor(
    readonly dir: string,
    private readonly model: InProcessCausalModel,
  ) {}

  async answers(prompts: readonly (readonly number[])[], maxTokens: number, eos: number): Promise<number[][]> {
    const out: number[][] = prompts.map(() => []);
    for (const [length, rows] of byLength(prompts)) {
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

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}

/**
 * Greedy left-to-right answers of a diffusion model: the prompt and a canvas of `maxTokens`
 * masks; each forward commits the most probable token at the leftmost mask, until end-of-text
 * (the rest of the canvas is then end-of-text padding, as the student's canvas is).
 */
class DiffusionTeacher implements TeacherModel {
  constructor(
    readonly dir: string,
    private readonly model: OnnxBidirectionalModel,
  ) {}

  async answers(prompts: readonly (readonly number[])[], maxTokens: number, eos: number): Promise<number[][]> {
    const out: number[][] = prompts.map(() => []);
    const shift = this.model.shiftsLogits ? 1 : 0; // Dream-style heads predict position i at i − 1
    for (const [length, rows] of byLength(prompts)) {
      const canvas = Math.min(maxTokens, this.model.maxPositions - length);
      const T = length + canvas;
      let active = rows;
      for (let t = 0; t < canvas && active.length > 0; t++) {
        const feed = new Int32Array(active.length * T).fill(this.model.maskTokenId);
        active.forEach((i, r) => {
          feed.set(prompts[i]!, r * T);
          feed.set(out[i]!, r * T + length);
        });
        const head = await this.model.forward(feed, active.length, T);
        const still: number[] = [];
        active.forEach((i, r) => {
          const token = head.topkIds[(r * head.length + length + t - shift) * head.k]!;
          out[i]!.push(token);
          if (token !== eos) still.push(i);
        });
        active = still;
      }
    }
    return out;
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}

async function openTeacher(dir: string, vocabSize: number, eos: number): Promise<TeacherModel> {
  let teacher: TeacherModel;
  let teacherVocab: number;
  let eosIds: readonly number[];
  try {
    const checkpoint = loadCheckpoint(dir); // read once: its config picks the kind, and it compiles
    const { config } = checkpoint;
    if (config.causal) {
      const model = await compileModel(checkpoint, { inProcess: true, threads: 1, kind: 'causal' });
      teacher = new CausalTeacher(dir, model);
      teacherVocab = model.vocabSize;
      eosIds = model.eosTokenIds;
    } else {
      const model = (await compileModel(checkpoint, { threads: 1, kind: 'bidirectional' })) as OnnxBidirectionalModel;
      teacher = new DiffusionTeacher(dir, model);
      teacherVocab = model.vocabSize;
      eosIds = config.eosTokenIds;
    }
  } catch (e) {
    throw new Error(`--distill-from ${dir}: ${(e as Error).message}`, { cause: e });
  }
  if (teacherVocab !== vocabSize) {
    await teacher.dispose();
    throw new Error(`--distill-from ${dir}: the teacher's vocabulary has ${teacherVocab} tokens, the trainer's tokenizer ${vocabSize}; they must share one tokenizer`);
  }
  if (!eosIds.includes(eos)) {
    await teacher.dispose();
    throw new Error(`--distill-from ${dir}: the teacher's end-of-text ids ${JSON.stringify(eosIds)} do not include the tokenizer's (${eos})`);
  }
  return teacher;
}

export class DistillTeacher {
  private constructor(private readonly teachers: readonly TeacherModel[]) {}

  /** The checkpoint directories, in the order their answers are tried. */
  get dirs(): string[] {
    return this.teachers.map((t) => t.dir);
  }

  /**
   * Compile each checkpoint of `dirs` (a list, or one comma-separated string as `--distill-from`
   * takes it): causal or diffusion checkpoints with the trainer's vocabulary.
   */
  static async open(dirs: string | readonly string[], vocabSize: number, eos: number): Promise<DistillTeacher> {
    const list = (typeof dirs === 'string' ? dirs.split(',') : [...dirs]).map((d) => d.trim()).filter(Boolean);
    if (list.length === 0) throw new Error('--distill-from needs at least one checkpoint directory');
    const teachers: TeacherModel[] = [];
    try {
      for (const dir of list) teachers.push(await openTeacher(dir, vocabSize, eos));
    } catch (e) {
      await Promise.all(teachers.map((t) => t.dispose()));
      throw e;
    }
    return new DistillTeacher(teachers);
  }

  /**
   * The first teacher's greedy answer to each prompt: up to `maxTokens` tokens, ending with `eos`
   * when the teacher stops within them (an answer cut at the limit is kept as the teacher wrote it).
   */
  answers(prompts: readonly (readonly number[])[], maxTokens: number, eos: number): Promise<number[][]> {
    return this.teachers[0]!.answers(prompts, maxTokens, eos);
  }

  /**
   * The same instances with their answers replaced by the teachers'. `validOnly`: the first
   * teacher answer the task's scorer accepts, else the reference — for a student that should
   * be right rather than agree (a diffusion model: on a task with many valid answers a
   * teacher's one deterministic choice is easier to learn than the reference's random one, but
   * its mistakes are not worth learning). Otherwise the first teacher's answer.
   */
  async relabel(data: SuiteData, encoded: readonly Encoded[], maxTokens: number, validOnly: boolean): Promise<Encoded[]> {
    const out = [...encoded];
    if (!validOnly) {
      const answers = await this.answers(encoded.map((e) => e.prompt), maxTokens, data.eos);
      return encoded.map((e, i) => ({ ...e, answer: answers[i]! }));
    }
    let open = encoded.map((_, i) => i);
    for (const teacher of this.teachers) {
      if (open.length === 0) break;
      const answers = await teacher.answers(open.map((i) => encoded[i]!.prompt), maxTokens, data.eos);
      const still: number[] = [];
      open.forEach((i, j) => {
        if (data.score(encoded[i]!, answers[j]!).score === 1) out[i] = { ...encoded[i]!, answer: answers[j]! };
        else still.push(i);
      });
      open = still;
    }
    return out;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.teachers.map((t) => t.dispose()));
  }
}
