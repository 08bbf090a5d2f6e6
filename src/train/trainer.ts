/**
 * The training loop: batches from the task suite, loss, AdamW, progress bar, periodic held-out
 * evaluation, checkpoints that resume exactly, a jsonl log, and HF exports.
 *
 *   DIR/log.jsonl       one JSON object per line: {type:'start'|'train'|'eval'|'save'|'end', ...}
 *   DIR/state.*         the last training checkpoint (see state.ts)
 *   DIR/eval.json       the last evaluation
 *
 * To stop a run cleanly (save, export, exit) create the file DIR/STOP; `--resume` continues it.
 */
import { appendFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer } from '../model/tokenizer.js';
import { initBackend, tf } from './backend.js';
import { SuiteData } from './data.js';
import { evaluate, type EvalResult } from './evaluate.js';
import { DistillTeacher } from './distill.js';
import { exportCheckpoint, loadInitWeights } from './export.js';
import { countParams, initParams, makeVariables, paramShapes, readParams, type ModelShape, type ParamMap } from './model.js';
import { batchLoss, causalBatch, diffusionBatch, type Batch } from './objective.js';
import { AdamW, lrAt } from './optim.js';
import type { TrainOptions } from './options.js';
import { loadState, saveState, stateExists } from './state.js';
import { checkTasks, SUITE_TASKS } from './suite.js';
import { Rng, seedFrom } from '../tasks/rng.js';

export interface TrainResult {
  step: number;
  /** loss of every step run by this call, in order */
  losses: number[];
  lastEval: EvalResult | null;
  params: Map<string, Float32Array>;
  shape: ModelShape;
}

export interface RunHooks {
  /** called after every step (tests) */
  onStep?: (step: number, loss: number) => void;
  /** silence the progress output */
  quiet?: boolean;
  /** return true to stop after this (1-based) step as if interrupted: save, no final eval */
  stopAfter?: (done: number) => boolean;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}

/** Options that must not change across --resume (they define the run). */
const RUN_DEFINING = ['objective', 'dModel', 'layers', 'heads', 'ffn', 'seed', 'batch', 'canvas', 'tasks', 'taskWeights', 'distillFrom', 'distillKeep'] as const;

/** The batch of step `step`; with a teacher (--distill-from) its answers replace the references. */
export async function makeBatch(o: TrainOptions, data: SuiteData, step: number, teacher?: DistillTeacher): Promise<Batch> {
  let encoded = data.trainInstances(o.seed, step, o.batch, o.objective, o.canvas);
  if (teacher) encoded = await teacher.relabel(data, encoded, o.canvas, o.distillKeep === 'valid');
  const seqs = encoded.map((e) => data.sequence(e, o.objective, o.canvas));
  if (o.objective === 'causal') return causalBatch(seqs, data.pad);
  return diffusionBatch(seqs, data.mask, data.pad, new Rng(seedFrom(o.seed, 'mask', step)));
}

export async function runTraining(o: TrainOptions, hooks: RunHooks = {}): Promise<TrainResult> {
  await initBackend();
  mkdirSync(o.out, { recursive: true });
  const logFile = join(o.out, 'log.jsonl');
  const log = (obj: Record<string, unknown>): void => appendFileSync(logFile, JSON.stringify({ time: new Date().toISOString(), ...obj }) + '\n');
  const say = (s: string): void => {
    if (!hooks.quiet) process.stderr.write(s);
  };

  const tokenizer = loadTokenizer(o.tokenizer);
  const tasks = checkTasks(o.tasks ?? SUITE_TASKS);
  if (o.taskWeights && o.taskWeights.length !== tasks.length) throw new Error(`--task-weights has ${o.taskWeights.length} weights for ${tasks.length} tasks`);
  const data = new SuiteData(tokenizer, tasks, o.taskWeights);
  const teacher = o.distillFrom ? await DistillTeacher.open(o.distillFrom, tokenizer.vocabSize, data.eos) : undefined;
  if (o.objective === 'diffusion' && data.mask < 0) throw new Error(`tokenizer ${o.tokenizer} has no mask token; masked diffusion needs one`);
  const shape: ModelShape = {
    vocabSize: tokenizer.vocabSize, dModel: o.dModel, layers: o.layers, heads: o.heads, ffn: o.ffn,
    ropeTheta: o.ropeTheta, rmsNormEps: o.rmsNormEps, maxPositions: o.maxPositions,
  };

  // --- weights and optimizer state
  let startStep = 0;
  let priorSeconds = 0;
  let values: Map<string, Float32Array>;
  let resumed: ReturnType<typeof loadState> | null = null;
  if (o.resume && stateExists(o.out)) {
    resumed = loadState(o.out);
    for (const k of RUN_DEFINING) {
      const was = JSON.stringify(resumed.options[k] ?? null);
      const now = JSON.stringify(o[k] ?? null);
      if (was !== now) throw new Error(`--resume: ${k} was ${was} in ${o.out}, now ${now}; these must not change`);
    }
    values = resumed.params;
    startStep = resumed.step;
    priorSeconds = Number(resumed.extra['seconds'] ?? 0);
  } else if (o.initFrom) {
    values = loadInitWeights(o.initFrom, shape);
  } else {
    values = initParams(shape, o.seed);
  }
  const params: ParamMap = makeVariables(shape, values);
  const opt = new AdamW(
    { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: 1e-8, weightDecay: o.weightDecay, clipNorm: o.clip, warmupSteps: o.warmup, totalSteps: o.steps, minLrRatio: o.minLrRatio },
    params,
  );
  if (resumed?.m && resumed.v) opt.load({ t: resumed.adamT, m: resumed.m, v: resumed.v });

  const nParams = countParams(shape);
  log({ type: 'start', step: startStep, resumed: resumed !== null, params: nParams, shape, options: o });
  say(`${o.objective} model: ${nParams.toLocaleString('en-US')} parameters (d${o.dModel} L${o.layers} H${o.heads} F${o.ffn}, vocab ${shape.vocabSize}); steps ${startStep}→${o.steps}, batch ${o.batch}\n`);

  const heldOut = data.heldOut(o.evalSeed, o.evalPerTask);
  const startedAt = performance.now();
  const elapsed = (): number => priorSeconds + (performance.now() - startedAt) / 1000;

  let stopRequested = false;
  const onSignal = (): void => {
    stopRequested = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const save = async (step: number, lastEval: EvalResult | null): Promise<void> => {
    const st = await opt.state();
    saveState(o.out, {
      step, adamT: st.t, shape, objective: o.objective, options: o as unknown as Record<string, unknown>,
      params: await readParams(params), m: st.m, v: st.v,
      extra: { seconds: elapsed(), lastEval: lastEval ? { step, suite: lastEval.suite, tasks: lastEval.tasks } : null },
    }, paramShapes(shape));
    log({ type: 'save', step });
  };

  const runEval = async (step: number): Promise<EvalResult> => {
    const r = await evaluate(params, shape, o.objective, data, heldOut, o.canvas);
    const line = Object.entries(r.tasks).map(([t, s]) => `${t} ${s.toFixed(0)}`).join(' | ');
    say(`\n[eval @${step}] suite ${r.suite.toFixed(1)} (${r.perTask}/task, ${r.seconds.toFixed(0)}s): ${line}\n`);
    log({ type: 'eval', step, suite: r.suite, tasks: r.tasks, perTask: r.perTask, seconds: r.seconds, samples: r.samples });
    writeFileSync(join(o.out, 'eval.json'), JSON.stringify({ step, ...r }, null, 2));
    if (o.exportTo) doExport(step, r);
    return r;
  };

  const doExport = (step: number, r: EvalResult | null): void => {
    // synchronous read of current weights is fine here (small models)
    const vals = new Map<string, Float32Array>();
    for (const [k, v] of params) vals.set(k, v.dataSync() as Float32Array);
    exportCheckpoint({
      dir: o.exportTo!, objective: o.objective, shape, params: vals, tokenizer, canvas: o.canvas,
      meta: { trainedSteps: step, heldOutSuite: r?.suite ?? null, run: o.out },
    });
    log({ type: 'export', step, dir: o.exportTo });
  };

  // --- the loop
  const losses: number[] = [];
  let lastEval: EvalResult | null = null;
  let tokens = 0;
  let emaLoss = NaN;
  const tty = process.stderr.isTTY === true;
  const loopStart = performance.now();
  let step = startStep;
  for (; step < o.steps; step++) {
    const batch = await makeBatch(o, data, step, teacher);
    const { value, grads } = tf.variableGrads(() => batchLoss(params, shape, o.objective, batch, { weight: o.certaintyWeight, temperature: o.certaintyTemperature }));
    const norm = opt.apply(params, grads);
    const loss = (await value.data())[0]!;
    const gnorm = (await norm.data())[0]!;
    tf.dispose([value, norm, ...Object.values(grads)]);
    if (!Number.isFinite(loss)) throw new Error(`loss is ${loss} at step ${step}; lower --lr`);
    losses.push(loss);
    hooks.onStep?.(step, loss);
    tokens += batch.tokens;
    emaLoss = Number.isNaN(emaLoss) ? loss : 0.95 * emaLoss + 0.05 * loss;

    const done = step + 1;
    const secs = (performance.now() - loopStart) / 1000;
    const sps = secs / (done - startStep);
    const eta = sps * (o.steps - done);
    if (done % o.logEvery === 0 || done === o.steps) {
      log({ type: 'train', step: done, loss, emaLoss, gradNorm: gnorm, lr: lrAt(opt.config, Math.max(0, opt.t - 1)), tokensPerSec: tokens / secs, secPerStep: sps });
    }
    if (tty || done % o.logEvery === 0 || done === o.steps) {
      const w = 24;
      const filled = Math.round((w * done) / o.steps);
      const bar = '#'.repeat(filled) + '.'.repeat(w - filled);
      const msg = `[${bar}] ${done}/${o.steps} loss ${emaLoss.toFixed(4)} (${loss.toFixed(4)}) ${Math.round(tokens / secs)} tok/s ${sps.toFixed(2)} s/step ETA ${fmtTime(eta)}`;
      say(tty ? `\r${msg}\x1b[K` : msg + '\n');
    }

    const stopFile = join(o.out, 'STOP');
    if (existsSync(stopFile)) {
      rmSync(stopFile, { force: true });
      stopRequested = true;
    }
    const timeUp = (o.maxMinutes > 0 && (performance.now() - startedAt) / 60000 >= o.maxMinutes) || (hooks.stopAfter?.(done) ?? false);
    if (done % o.evalEvery === 0 && done < o.steps) lastEval = await runEval(done);
    if (done % o.saveEvery === 0 || done === o.steps || stopRequested || timeUp) await save(done, lastEval);
    if (stopRequested || timeUp) {
      say(`\nstopping at step ${done} (${stopRequested ? 'STOP file or signal' : 'time limit'}); resume with --resume\n`);
      step = done;
      break;
    }
  }
  if (step >= o.steps) lastEval = await runEval(step); // final evaluation (+ export)
  else if (o.exportTo) doExport(step, lastEval);
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  log({ type: 'end', step, seconds: elapsed(), suite: lastEval?.suite ?? null });
  say(`\ndone: step ${step}, ${fmtTime(elapsed())} total\n`);
  await teacher?.dispose();
  const out = await readParams(params);
  for (const v of params.values()) v.dispose();
  for (const v of [...opt.m.values(), ...opt.v.values()]) v.dispose();
  return { step, losses, lastEval, params: out, shape };
}
