/**
 * The public library API: load a model, generate text.
 *
 *   const model = await loadModel('models/tiny-dlm');
 *   for await (const ev of generate(model, 'copy: ["Paul Payne"]', { strategy: 'threshold' })) …
 *   const { text, usage, nfe } = await generateText(model, prompt);
 *
 * One call path for diffusion and autoregressive models: `generate` picks the loop by the
 * model's family and the strategy by name from the registry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, OptionError } from './errors.js';
import { resolveModelDir } from './model/locate.js';
import { diffusionScheduleOf } from './model/architectures.js';
import { loadCheckpoint, type Checkpoint } from './model/checkpoint.js';
import { loadTokenizer, type ChatMessage, type TextTokenizer } from './model/tokenizer.js';
import type { ModelConfig } from './model/types.js';
import { compileModel, type CompileOptions, type CompiledModel } from './runtime/compile-model.js';
import { isGraphCached, type GraphKind, type Quantization } from './runtime/compile.js';
import { DTYPES, dtypeOf, parseDtype, quantizationOf, type Dtype } from './runtime/dtype.js';
import { checkFits, chooseDtype, estimateMemory, storedBytesPerParam, systemMemory, type MemorySource } from './runtime/memory.js';
import { warmUp, WARM_UP_FROM_BYTES } from './runtime/warm-up.js';
import { isOnnxExport, loadOnnxExport } from './runtime/onnx-export.js';
import { discardSpareSessionWorker, prewarmSessionWorker } from './runtime/session.js';
import type { BidirectionalModel, CausalModel } from './runtime/types.js';
import { runDiffusion, type DiffusionRowResult, type StepEvent } from './decode/diffusion/loop.js';
import type { ScheduleReport } from './decode/diffusion/row-state.js';
import { settledPrefix } from './decode/diffusion/settled.js';
import type { CacheMode } from './decode/diffusion/cache.js';
import { runAutoregressive, type ArResult } from './decode/autoregressive/loop.js';
import type { AutoregressiveStrategy } from './decode/autoregressive/types.js';
import { findAutoregressiveStrategy, findDiffusionStrategy } from './decode/registry.js';
import { resolveParams } from './decode/params.js';
import { returnValue } from './decode/drain.js';
import { Rng } from './tasks/rng.js';
import { extraModelsFor, releaseSharedModels, type ExtraModelCache } from './extra-model-loader.js';

export type { ChatMessage } from './model/tokenizer.js';
export type { CacheMode } from './decode/diffusion/cache.js';
export type { Dtype } from './runtime/dtype.js';
export type { MemoryInfo, MemorySource } from './runtime/memory.js';
export type { ScheduleReport } from './decode/diffusion/row-state.js';

export { BUILTIN_MODELS_DIR, DEFAULT_MODEL, resolveModelDir } from './model/locate.js';

export interface LoadOptions extends Omit<CompileOptions, 'dtype'> {
  /** scan every weight for NaN/Inf at load (default true) */
  checkFinite?: boolean;
  /**
   * the weights' data type: 'fp32', 'int8' or 'int4' (runtime/dtype.ts), or 'auto' (the default):
   * fp32 when the model fits comfortably in the available memory, else the most precise dtype that
   * does, said in one line through `log`
   */
  dtype?: Dtype | 'auto';
  /**
   * before compiling, check that the model fits in the available memory at its dtype and fail with
   * an InputError naming what would fit if not (default true; runtime/memory.ts)
   */
  checkMemory?: boolean;
  /** where the available memory is read (default: the system's; tests pass a fixed one) */
  memory?: MemorySource;
  /** notices, such as the dtype picked when it is not fp32 (default: a line on stderr) */
  log?: (line: string) => void;
  /**
   * run two forwards at load, so the first request costs what the next ones do (runtime/warm-up.ts;
   * default: when the weights take 64 MB or more, not for paradec's tiny models)
   */
  warmUp?: boolean;
}

export interface ParadecModel {
  readonly dir: string;
  readonly name: string;
  readonly config: ModelConfig;
  readonly tokenizer: TextTokenizer;
  readonly family: 'diffusion' | 'autoregressive';
  readonly runtime: BidirectionalModel | CausalModel;
  /** the weights' data type it was loaded at; null for an ONNX export (its own weights) */
  readonly dtype: Dtype | null;
  /** end-of-text ids: the config's, else the tokenizer's eos */
  readonly eosTokenIds: readonly number[];
  /**
   * paradec's task models read `<prompt>\n`: a prompt given with or without one trailing newline
   * gets exactly one (tokenizer_config.json `paradec_prompt_format: "line"`).
   */
  readonly linePrompt: boolean;
  dispose(): Promise<void>;
}

export async function loadModel(dirOrName?: string, options: LoadOptions = {}): Promise<ParadecModel> {
  const dir = resolveModelDir(dirOrName);
  // ONNX Runtime's worker starts now: its thread's start runs beside the reading of tokenizer,
  // config, checkpoint and graph cache, and ORT's own start beside that (OrtSession.open: on this
  // thread for a process's first model, once the request is sent); the session takes the worker
  // when the model is ready. A caller that knows earlier calls prewarmSessionWorker itself.
  const prewarmed = options.inProcess ? false : prewarmSessionWorker();
  let tokenizer: TextTokenizer;
  let runtime: CompiledModel;
  let config: ModelConfig;
  let dtype: Dtype | null = null;
  const { dtype: asked, checkMemory, memory, log, warmUp: warm, ...compileOptions } = options;
  try {
    tokenizer = loadTokenizer(dir);
    if (isOnnxExport(dir)) {
      const wanted = asked ?? (options.quantize !== undefined ? dtypeOf(options.quantize) : 'auto');
      if (wanted !== 'auto' && wanted !== 'fp32') throw new OptionError(`dtype ${wanted}: ${dir} is an ONNX export, which runs with its own weights; dtype applies to checkpoints paradec compiles`);
      // an existing ONNX decoder export: paradec appends its decode head and runs it as is
      ({ runtime, config } = await loadOnnxExport(dir, compileOptions));
    } else {
      const checkpoint = loadCheckpoint(dir, { checkFinite: false });
      dtype = pickDtype(modelName(dir), checkpoint, asked, options.quantize, { check: checkMemory ?? true, memory: memory ?? systemMemory, log: log ?? stderrLine, graph: compileOptions });
      // the NaN/Inf scan runs with the graph-cache lookup, which skips it for files it already scanned
      runtime = await compileModel(checkpoint, { ...compileOptions, dtype, checkFinite: options.checkFinite ?? true });
      config = checkpoint.config;
    }
  } catch (e) {
    // nothing will take the worker started above: end it rather than leave it idle
    if (prewarmed) discardSpareSessionWorker();
    throw e;
  }
  if (warm ?? estimateMemory(config, dtype ?? 'fp32').weights >= WARM_UP_FROM_BYTES) {
    try {
      await warmUp(runtime);
    } catch (e) {
      await runtime.dispose();
      throw e;
    }
  }
  const eos = config.eosTokenIds.length > 0 ? config.eosTokenIds : tokenizer.eos ? [tokenizer.eos.id] : [];
  let linePrompt = false;
  const tcFile = join(dir, 'tokenizer_config.json');
  if (existsSync(tcFile)) {
    try {
      linePrompt = (JSON.parse(readFileSync(tcFile, 'utf8')) as { paradec_prompt_format?: string }).paradec_prompt_format === 'line';
    } catch {
      linePrompt = false; // loadTokenizer already validated the file; an unreadable field means "not set"
    }
  }
  return {
    dir,
    name: modelName(dir),
    config,
    dtype,
    tokenizer,
    family: runtime.kind === 'causal' ? 'autoregressive' : 'diffusion',
    runtime,
    eosTokenIds: eos,
    linePrompt,
    dispose: async () => {
      await releaseSharedModels(runtime);
      await runtime.dispose();
    },
  };
}

function modelName(dir: string): string {
  return dir.split('/').filter(Boolean).pop() ?? dir;
}

function stderrLine(line: string): void {
  process.stderr.write(`paradec: ${line}\n`);
}

/**
 * The dtype a checkpoint loads at: the one asked for (`dtype`, else `quantize`), which must fit in
 * the available memory, or the default choice (runtime/memory.ts `chooseDtype`), announced through
 * `log` when it is not fp32. With the check off, 'auto' is fp32.
 */
function pickDtype(
  name: string,
  checkpoint: Checkpoint,
  asked: Dtype | 'auto' | undefined,
  quantize: Quantization | undefined,
  how: { check: boolean; memory: MemorySource; log: (line: string) => void; graph: Pick<CompileOptions, 'kind' | 'topK' | 'cacheDir'> },
): Dtype {
  const parsed = asked === undefined ? 'auto' : parseDtype(String(asked), 'dtype', true);
  const wanted = parsed === 'auto' && quantize !== undefined ? dtypeOf(quantize) : parsed;
  if (!how.check) return wanted === 'auto' ? 'fp32' : wanted;
  const { config, weights } = checkpoint;
  const stored = storedBytesPerParam(checkpoint.table.values());
  const kind: GraphKind = how.graph.kind ?? (config.causal ? 'causal' : 'bidirectional');
  const graph = { kind, ...(how.graph.topK !== undefined ? { topK: how.graph.topK } : {}), ...(how.graph.cacheDir !== undefined ? { cacheDir: how.graph.cacheDir } : {}) };
  // a quantized graph already in the cache loads without being compiled, so without the compiler's copies
  const estimates = DTYPES.map((d) => estimateMemory(config, d, {
    storedBytesPerParam: stored,
    compiled: d !== 'fp32' && isGraphCached(config, weights, { ...graph, quantize: quantizationOf(d) }),
  }));
  const memory = how.memory();
  if (wanted !== 'auto') {
    checkFits(name, wanted, estimates, memory);
    return wanted;
  }
  const choice = chooseDtype(name, estimates, memory);
  if (choice.notice) how.log(choice.notice);
  return choice.dtype;
}

export interface GenerateOptions {
  /** strategy name (default: `confidence` for diffusion models, `greedy` for autoregressive) */
  strategy?: string;
  /** the strategy's parameters (`--set key=value`) */
  strategyOptions?: Record<string, unknown>;
  /** diffusion: canvas length (default 32 for paradec's task models, else 128) */
  genLength?: number;
  /** diffusion: base-schedule steps (default genLength) */
  steps?: number;
  /** diffusion: semi-autoregressive block length (default genLength) */
  blockLength?: number;
  /** diffusion: classifier-free guidance scale */
  cfgScale?: number;
  /**
   * diffusion: the end-of-text fill (default true): once an end-of-text is committed with no mask
   * before it, the masks after it are filled with end-of-text in the same step — the text cannot
   * change after a final end-of-text, so the forwards that would fill them are skipped and `steps`
   * is an upper bound. false: a base-schedule run takes exactly `steps` forward passes (LLaDA's
   * reference and llama.cpp). The result's `schedule.eosFill` records it.
   */
  eosFill?: boolean;
  /**
   * diffusion: KV caching between denoising steps (docs/caching.md): 'none' (default), 'prefix',
   * 'dual', 'delayed', 'window' or 'vicinity'; works with every strategy
   */
  cache?: CacheMode;
  /** diffusion, with a cache: full refresh every N forwards of a row (1 = every step: the uncached result) */
  cacheRefresh?: number;
  /**
   * diffusion, with a cache: the modes' sizes — `active` and `window` (mode 'window': masks computed
   * each step / masks kept as cached keys before pruning), `margin` (mode 'vicinity')
   */
  cacheOptions?: { active?: number; window?: number; margin?: number };
  /**
   * autoregressive: decode with this strategy object (made by the caller, e.g. from the registry's
   * definition, and disposed by the caller) instead of a fresh one from `strategy` and
   * `strategyOptions`, and leave it alive afterwards. What a strategy keeps between prompts then
   * carries over from one call to the next, as in a process that serves many prompts with one
   * strategy: speculative decoding's adaptive draft length, for one (`paradec bench` measures
   * strategies this way).
   */
  keptStrategy?: AutoregressiveStrategy;
  /**
   * autoregressive: where the strategy's extra models (draft LM, drafter, safe model) are kept
   * between generations; default: loaded once per model and kept until the model is disposed.
   * `paradec serve` passes a bounded pool (src/server/extra-model-pool.ts).
   */
  extraModelCache?: ExtraModelCache;
  /** autoregressive: maximum new tokens (default 128) */
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  /** stop strings: the text is cut before the first occurrence */
  stop?: string[];
  signal?: AbortSignal;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface GenerationResult {
  text: string;
  finishReason: 'stop' | 'length';
  usage: Usage;
  /** sequential forward passes of the model (the latency proxy; the draft model's are counted separately) */
  nfe: number;
  /**
   * the work: positions the model computed, over all its forwards (rows × tokens). Diffusion: the
   * canvas per forward (the KV cache's window when it computed only that; twice with
   * classifier-free guidance; every candidate canvas of a batched candidate forward).
   * Autoregressive: every position fed to the target (prefill, verification rows and tree nodes,
   * rollouts); the draft models' are in `draftWork`.
   */
  work: number;
  tokensPerForward: number;
  ms: number;
  /** autoregressive draft-and-verify: draft tokens proposed / accepted */
  drafted?: number;
  accepted?: number;
  /** autoregressive: forward passes of the strategy's draft models (not in `nfe`; 0 without one) */
  draftNfe?: number;
  /** autoregressive: positions fed to the strategy's draft models (not in `work`; 0 without one) */
  draftWork?: number;
  /** diffusion: the step (forward-pass index) at which each canvas position was committed */
  committedAt?: number[];
  /** diffusion: forward passes that computed the whole canvas (with a KV cache, fewer than nfe) */
  fullForwards?: number;
  /**
   * diffusion: which schedule set each step's count — the base schedule (`steps`) or the
   * strategy's own rule — with its one-token and progress-guarantee steps and the end-of-text fill
   */
  schedule?: ScheduleReport;
}

export type GenerationEvent =
  | { type: 'step'; nfe: number; committed: { position: number; token: number; text: string }[]; remasked: number[] }
  | { type: 'text'; delta: string }
  /** autoregressive: one target forward pass and what it committed (drafts proposed/accepted) */
  | { type: 'verify'; nfe: number; tokens: number[]; drafted: number; accepted: number }
  | ({ type: 'done' } & GenerationResult);

/** Turn a prompt (string or chat messages) into token ids for this model. */
export function encodePrompt(model: ParadecModel, prompt: string | readonly ChatMessage[]): number[] {
  let text: string;
  if (typeof prompt === 'string') {
    text = model.linePrompt ? prompt.replace(/\n$/, '') + '\n' : prompt;
  } else {
    if (prompt.length === 0) throw new InputError('messages must not be empty');
    text = model.tokenizer.applyChatTemplate(prompt, { addGenerationPrompt: true });
    if (model.linePrompt) text = text.replace(/\n$/, '') + '\n';
  }
  const ids = model.tokenizer.encode(text, { addSpecialTokens: !model.linePrompt });
  if (ids.length === 0) throw new InputError('the prompt encodes to no tokens');
  return ids;
}

function cutAtStop(text: string, stop: readonly string[] | undefined): { text: string; stopped: boolean } {
  let cut = -1;
  for (const s of stop ?? []) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && (cut < 0 || i < cut)) cut = i;
  }
  return cut >= 0 ? { text: text.slice(0, cut), stopped: true } : { text, stopped: false };
}

function seedOf(options: GenerateOptions): number {
  return options.seed ?? 0;
}

/** Decoded text of generated ids up to (not including) the first end-of-text. */
export function textUntilEos(model: ParadecModel, ids: readonly number[]): { text: string; tokens: number; ended: boolean } {
  const end = ids.findIndex((t) => model.eosTokenIds.includes(t));
  const kept = end >= 0 ? ids.slice(0, end) : ids;
  return { text: model.tokenizer.decode(kept, { skipSpecialTokens: true }), tokens: kept.length, ended: end >= 0 };
}

/** The canvas length used when a request does not give one: 32 for paradec's task models. */
export function defaultGenLength(model: ParadecModel): number {
  return model.linePrompt ? 32 : 128;
}

/** Generate for one prompt; yields step events (diffusion), text deltas and a final event. */
export async function* generate(
  model: ParadecModel,
  prompt: string | readonly ChatMessage[],
  options: GenerateOptions = {},
): AsyncGenerator<GenerationEvent, GenerationResult> {
  const ids = encodePrompt(model, prompt);
  if (model.runtime.kind === 'bidirectional') {
    const results = yield* generateDiffusionRows(model, [ids], options);
    return results[0]!;
  }
  return yield* generateAutoregressive(model, model.runtime, ids, options);
}

/** Generate and return the final result. */
export async function generateText(model: ParadecModel, prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): Promise<GenerationResult> {
  return returnValue(generate(model, prompt, options));
}

/**
 * Several prompts at once. Diffusion models decode them as one batch (one forward per step for
 * all rows); autoregressive models decode them one after another.
 */
export async function generateBatch(model: ParadecModel, prompts: readonly (string | readonly ChatMessage[])[], options: GenerateOptions = {}): Promise<GenerationResult[]> {
  if (model.runtime.kind === 'bidirectional') {
    return returnValue(generateDiffusionRows(model, prompts.map((p) => encodePrompt(model, p)), options));
  }
  const out: GenerationResult[] = [];
  for (const p of prompts) out.push(await generateText(model, p, options));
  return out;
}

async function* generateDiffusionRows(model: ParadecModel, rows: number[][], options: GenerateOptions): AsyncGenerator<GenerationEvent, GenerationResult[]> {
  const runtime = model.runtime as BidirectionalModel;
  const def = findDiffusionStrategy(options.strategy ?? 'confidence');
  const strategy = def.create(resolveParams(def.name, def.params, options.strategyOptions));
  for (const [k, v] of [['max_tokens', options.maxTokens], ['top_p', options.topP], ['top_k', options.topK]] as const) {
    if (v !== undefined && k !== 'max_tokens') throw new OptionError(`${k} is not supported by diffusion decoding (use temperature)`);
  }
  if (options.cacheRefresh !== undefined && (options.cache === undefined || options.cache === 'none')) {
    throw new OptionError('refresh is the refresh interval of a KV cache: choose a cache mode too (prefix, dual, delayed, window, vicinity)');
  }
  const genLength = options.genLength ?? (options.maxTokens !== undefined ? Math.max(1, options.maxTokens) : defaultGenLength(model));
  const started = performance.now();
  const it = runDiffusion(runtime, rows, strategy, model.eosTokenIds, {
    genLength,
    steps: options.steps,
    blockLength: options.blockLength,
    temperature: options.temperature ?? 0,
    cfgScale: options.cfgScale ?? 0,
    eosFill: options.eosFill ?? true,
    newlineTokenIds: newlineTokenIds(model.tokenizer),
    schedule: diffusionScheduleOf(model.config.architecture),
    ...(options.cache !== undefined && options.cache !== 'none'
      ? { cache: { mode: options.cache, refresh: options.cacheRefresh, active: options.cacheOptions?.active, window: options.cacheOptions?.window, margin: options.cacheOptions?.margin } }
      : {}),
    rng: new Rng(seedOf(options)),
    signal: options.signal,
  });
  const emitted = rows.map(() => '');
  let results: DiffusionRowResult[];
  for (;;) {
    const n = await it.next();
    if (n.done) {
      results = n.value;
      break;
    }
    const ev: StepEvent = n.value;
    if (rows.length === 1) {
      yield {
        type: 'step',
        nfe: ev.nfe,
        committed: ev.committed.map((c) => ({ position: c.position - rows[0]!.length, token: c.token, text: model.tokenizer.decode([c.token]) })),
        remasked: ev.remasked.map((p) => p - rows[0]!.length),
      };
      // stream the settled prefix; a self-correcting strategy may still rewrite it, so wait
      if (ev.remasked.length === 0 && (options.stop ?? []).length === 0) {
        const text = settledText(model, ev, runtime.maskTokenId);
        if (text.length > emitted[0]!.length && text.startsWith(emitted[0]!)) {
          yield { type: 'text', delta: text.slice(emitted[0]!.length) };
          emitted[0] = text;
        }
      }
    }
  }
  const ms = performance.now() - started;
  const finals = results.map((r, i) => {
    const { text: raw, tokens, ended } = textUntilEos(model, r.generated);
    const { text, stopped } = cutAtStop(raw, options.stop);
    const completionTokens = stopped ? model.tokenizer.encode(text, { addSpecialTokens: false }).length : tokens;
    const produced = completionTokens + (ended && !stopped ? 1 : 0);
    return {
      text,
      finishReason: ended || stopped ? 'stop' : 'length',
      usage: { promptTokens: rows[i]!.length, completionTokens, totalTokens: rows[i]!.length + completionTokens },
      nfe: r.nfe,
      work: r.work,
      tokensPerForward: r.nfe > 0 ? produced / r.nfe : 0,
      ms,
      committedAt: r.committedAt,
      fullForwards: r.fullForwards,
      schedule: r.schedule,
    } satisfies GenerationResult;
  });
  if (rows.length === 1) {
    const final = finals[0]!;
    if (final.text.length > emitted[0]!.length && final.text.startsWith(emitted[0]!)) {
      yield { type: 'text', delta: final.text.slice(emitted[0]!.length) };
    }
    yield { type: 'done', ...final };
  }
  return finals;
}

const NEWLINES = new WeakMap<TextTokenizer, readonly number[]>();

/**
 * The tokenizer's newline token: the single id `\n` encodes to (LLaDA's 198, paradec's 4), or none
 * when it encodes to several tokens or to a token that stands for more than the newline.
 */
function newlineTokenIds(tokenizer: TextTokenizer): readonly number[] {
  let ids = NEWLINES.get(tokenizer);
  if (!ids) {
    const encoded = tokenizer.encode('\n', { addSpecialTokens: false });
    ids = encoded.length === 1 && tokenizer.decode(encoded) === '\n' ? encoded : [];
    NEWLINES.set(tokenizer, ids);
  }
  return ids;
}

/** The text settled so far: the settled prefix's tokens (before the first mask and before end-of-text). */
function settledText(model: ParadecModel, ev: StepEvent, mask: number): string {
  const { end } = settledPrefix(ev.canvas, ev.promptLength, mask, model.eosTokenIds);
  return model.tokenizer.decode(Array.from(ev.canvas.subarray(ev.promptLength, end)), { skipSpecialTokens: true });
}

async function* generateAutoregressive(model: ParadecModel, runtime: CausalModel, ids: number[], options: GenerateOptions): AsyncGenerator<GenerationEvent, GenerationResult> {
  const def = findAutoregressiveStrategy(options.strategy ?? 'greedy');
  const strategy = options.keptStrategy ?? def.create(resolveParams(def.name, def.params, options.strategyOptions));
  for (const [k, v] of [['gen_length', options.genLength], ['steps', options.steps], ['block_length', options.blockLength], ['eos_fill', options.eosFill]] as const) {
    if (v !== undefined) throw new OptionError(`${k} applies to diffusion models; use max_tokens for an autoregressive model`);
  }
  if ((options.cache !== undefined && options.cache !== 'none') || options.cacheRefresh !== undefined) {
    throw new OptionError('cache applies to diffusion models (an autoregressive model always keeps its KV cache)');
  }
  const started = performance.now();
  const it = runAutoregressive(runtime, ids, strategy, {
    maxTokens: options.maxTokens ?? 128,
    sampling: { temperature: options.temperature ?? 0, topK: options.topK ?? 0, topP: options.topP ?? 1 },
    rng: new Rng(seedOf(options)),
    eosTokenIds: model.eosTokenIds,
    signal: options.signal,
    models: extraModelsFor(runtime, { encode: (text) => model.tokenizer.encode(text, { addSpecialTokens: false }), ...(options.extraModelCache ? { cache: options.extraModelCache } : {}) }),
    keepStrategy: options.keptStrategy !== undefined,
  });
  const generated: number[] = [];
  let drafted = 0;
  let accepted = 0;
  let emitted = '';
  let result: ArResult;
  let stopped = false;
  for (;;) {
    const n = await it.next();
    if (n.done) {
      result = n.value;
      break;
    }
    generated.push(...n.value.tokens);
    drafted += n.value.drafted;
    accepted += n.value.accepted;
    yield { type: 'verify', nfe: n.value.nfe, tokens: n.value.tokens, drafted: n.value.drafted, accepted: n.value.accepted };
    const { text } = textUntilEos(model, generated);
    const cut = cutAtStop(text, options.stop);
    // hold back a possible partial stop string at the end
    const holdBack = Math.max(0, ...(options.stop ?? []).map((s) => s.length - 1));
    const safe = cut.stopped ? cut.text : cut.text.slice(0, Math.max(emitted.length, cut.text.length - holdBack));
    if (safe.length > emitted.length && safe.startsWith(emitted)) {
      yield { type: 'text', delta: safe.slice(emitted.length) };
      emitted = safe;
    }
    if (cut.stopped) {
      stopped = true;
      await it.return?.(undefined as never);
      const { nfe, draftNfe, work, draftWork } = n.value;
      result = { generated, nfe, drafted, accepted, finishReason: 'stop', draftNfe, work, draftWork };
      break;
    }
  }
  const ms = performance.now() - started;
  const { text: raw, tokens, ended } = textUntilEos(model, result.generated);
  const { text } = cutAtStop(raw, options.stop);
  if (text.length > emitted.length && text.startsWith(emitted)) yield { type: 'text', delta: text.slice(emitted.length) };
  const completionTokens = stopped ? model.tokenizer.encode(text, { addSpecialTokens: false }).length : tokens;
  const final: GenerationResult = {
    text,
    finishReason: stopped || ended ? 'stop' : 'length',
    usage: { promptTokens: ids.length, completionTokens, totalTokens: ids.length + completionTokens },
    nfe: result.nfe,
    work: result.work,
    tokensPerForward: result.nfe > 0 ? result.generated.length / result.nfe : 0,
    ms,
    drafted: result.drafted,
    accepted: result.accepted,
    draftWork: result.draftWork,
  };
  if (result.draftNfe !== undefined) final.draftNfe = result.draftNfe;
  yield { type: 'done', ...final };
  return final;
}
