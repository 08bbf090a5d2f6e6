/**
 * Serving one generation request (both endpoints): pick the model and strategy, check the
 * strategy's parameters before queueing, wait for a slot, run `generate`, and answer with one
 * JSON object or a stream of chunks (with canvas frames when asked).
 *
 * Cancellation: the caller's AbortSignal (client gone, time limit, shutdown) is passed to
 * `generate`, whose loops check it before every forward pass and throw its reason; a queued
 * request whose signal aborts leaves the queue. Either way the slot is released in `finally`.
 */
import type { ServerResponse } from 'node:http';
import { generate, type GenerateOptions, type GenerationEvent, type GenerationResult } from '../api.js';
import { findAutoregressiveStrategy, findDiffusionStrategy, type AnyStrategyDefinition } from '../decode/registry.js';
import { resolveParams } from '../decode/params.js';
import { OptionError } from '../errors.js';
import { canvasEnd, canvasStart, canvasStep } from './canvas.js';
import { Cancelled, HttpError } from './http-error.js';
import type { ExtraModelPool } from './extra-model-pool.js';
import type { Limiter } from './limiter.js';
import type { ServerMetrics } from './metrics.js';
import type { ModelNames } from './model-names.js';
import { defaultGenLength, type ModelPool, type ServedModel } from './models.js';
import { chatResponse, chunk, completionResponse, newId, timingsOf, usageChunk, type ResponseMeta, type Timings } from './openai-format.js';
import type { GenerationRequest } from './schema.js';
import { SseWriter } from './sse.js';
import { returnValue } from '../decode/drain.js';

export interface GenerationDeps {
  pool: ModelPool;
  limiter: Limiter;
  metrics: ServerMetrics;
  /** what strategy parameters that name a model or datastore may name */
  names: ModelNames;
  /** the bounded cache of the strategies' extra models (draft LMs, drafters, safe models) */
  extraModels: ExtraModelPool;
  /** ORT threads of every extra model: the server decides, not the request */
  extraModelThreads: number;
}

/**
 * Strategy parameters are also how a strategy is told which draft model or weights file to load,
 * and how many threads to give it. A remote client must not make the server read files of its
 * choosing nor size its thread pools: parameters marked as naming a model or a datastore
 * (`ParamSpec.names`) are resolved by the server's `ModelNames` — given or default, so a default
 * is never looked up in the working directory either — parameters naming any other file cannot be
 * set, host settings (`hostSetting`: draft threads) are the server's, and other free-form strings
 * may not look like paths.
 */
const LOOKS_LIKE_PATH = /[/\\]|^[.~]/;

function findStrategy(family: 'diffusion' | 'autoregressive', name: string | undefined): AnyStrategyDefinition {
  try {
    return family === 'diffusion' ? findDiffusionStrategy(name ?? 'confidence') : findAutoregressiveStrategy(name ?? 'greedy');
  } catch (e) {
    if (e instanceof OptionError) throw new HttpError(400, `strategy: ${e.message}`, { param: 'strategy', code: 'unknown_strategy' });
    throw e;
  }
}

/** strategy_options plus top-level fields named like the strategy's parameters, checked now. */
function strategyOptions(def: AnyStrategyDefinition, request: GenerationRequest, deps: GenerationDeps): Record<string, unknown> {
  const options: Record<string, unknown> = { ...request.strategyOptions };
  for (const [key, value] of Object.entries(request.extraFields)) {
    if (!(key in def.params)) continue;
    if (key in options) throw new HttpError(400, `${key}: given both at the top level and in strategy_options`, { param: key });
    options[key] = value;
  }
  const given = (key: string): boolean => options[key] !== undefined && options[key] !== null;
  for (const [key, spec] of Object.entries(def.params)) {
    const param = `strategy_options.${key}`;
    if (spec.hostSetting && given(key)) {
      throw new HttpError(400, `${param}: is decided by the server for every request and cannot be set by one`, { param });
    }
    if (spec.names === 'file' && given(key)) {
      throw new HttpError(400, `${param}: names a file on the server and cannot be set by a request`, { param });
    }
  }
  for (const [key, value] of Object.entries(options)) {
    const spec = def.params[key];
    if (spec?.type === 'string' && !spec.choices && !spec.names && typeof value === 'string' && LOOKS_LIKE_PATH.test(value)) {
      throw new HttpError(400, `strategy_options.${key}: file paths are not accepted over HTTP`, { param: `strategy_options.${key}` });
    }
  }
  let resolved: Record<string, unknown>;
  try {
    resolved = resolveParams(def.name, def.params, options);
  } catch (e) {
    if (e instanceof OptionError) throw new HttpError(400, `strategy_options: ${e.message}`, { param: 'strategy_options', code: 'invalid_strategy_option' });
    throw e;
  }
  for (const [key, spec] of Object.entries(def.params)) {
    const value = resolved[key];
    const param = `strategy_options.${key}`;
    if (spec.hostSetting) options[key] = deps.extraModelThreads;
    else if (spec.names === 'model' && typeof value === 'string') options[key] = deps.names.model(param, value);
    else if (spec.names === 'datastore' && typeof value === 'string') options[key] = deps.names.datastore(param, value);
  }
  return options;
}

interface Plan {
  modelName: string;
  strategy: string;
  options: GenerateOptions;
  /** diffusion: canvas length; null for autoregressive models */
  genLength: number | null;
}

function plan(request: GenerationRequest, deps: GenerationDeps, signal: AbortSignal): Plan & ServedModel {
  const served = deps.pool.get(request.model);
  const { name, model } = served;
  const def = findStrategy(model.family, request.strategy);
  const options: GenerateOptions = {
    strategy: def.name,
    strategyOptions: strategyOptions(def, request, deps),
    extraModelCache: deps.extraModels,
    maxTokens: request.maxTokens,
    temperature: request.temperature,
    topP: request.topP,
    topK: request.topK,
    seed: request.seed,
    stop: request.stop,
    steps: request.steps,
    blockLength: request.blockLength,
    cfgScale: request.cfgScale,
    signal,
  };
  if (request.cache !== undefined || request.cacheRefresh !== undefined) {
    if (model.family !== 'diffusion') throw new HttpError(400, 'cache: KV cache modes apply to diffusion models', { param: 'cache' });
    if (request.cacheRefresh !== undefined && (request.cache ?? 'none') === 'none') {
      throw new HttpError(400, 'cache_refresh: needs a cache mode (prefix, dual, delayed, window, vicinity)', { param: 'cache_refresh' });
    }
    if (request.cache !== undefined) options.cache = request.cache;
    if (request.cacheRefresh !== undefined) options.cacheRefresh = request.cacheRefresh;
  }
  if (request.eosFill !== undefined) {
    if (model.family !== 'diffusion') throw new HttpError(400, 'eos_fill: the end-of-text fill applies to diffusion models', { param: 'eos_fill' });
    options.eosFill = request.eosFill;
  }
  let genLength: number | null = null;
  if (model.family === 'diffusion') {
    // the canvas length is decided here (api.ts' rule) so canvas frames can announce it up front
    genLength = request.genLength ?? request.maxTokens ?? defaultGenLength(model);
    options.genLength = genLength;
    if (options.topP === 1) options.topP = undefined; // top_p = 1 means "no nucleus cut": nothing to refuse
  } else {
    options.genLength = request.genLength;
  }
  return { ...served, modelName: name, strategy: def.name, options, genLength };
}

/** Serve one validated request; throws HttpError/Cancelled before anything is written. */
export async function serveGeneration(res: ServerResponse, request: GenerationRequest, deps: GenerationDeps, signal: AbortSignal): Promise<void> {
  const p = plan(request, deps, signal);
  const queuedAt = performance.now();
  let release: () => void;
  try {
    release = await deps.limiter.acquire(signal);
  } catch (e) {
    if (e instanceof HttpError && e.status === 503) deps.metrics.rejected.inc({ reason: String(e.details.code ?? 'overloaded') });
    throw e;
  }
  const queuedMs = performance.now() - queuedAt;
  deps.metrics.queueSeconds.observe(queuedMs / 1000);
  const meta: ResponseMeta = { id: newId(request.endpoint), created: Math.floor(Date.now() / 1000), model: p.modelName };
  // from here until it ends, this generation's forwards are batched with the others' on the model
  const leave = p.batcher?.join() ?? ((): void => undefined);
  const it = generate(p.model, request.prompt, p.options);
  let outcome = 'error';
  try {
    const final = request.stream ? await streamAnswer(res, request, p, meta, it, queuedMs, signal) : await jsonAnswer(res, request, p, meta, it, queuedMs);
    outcome = 'completed';
    const labels = { model: p.modelName };
    deps.metrics.promptTokens.inc(labels, final.usage.promptTokens);
    deps.metrics.completionTokens.inc(labels, final.usage.completionTokens);
    deps.metrics.forwardPasses.inc(labels, final.nfe);
    deps.metrics.workPositions.inc(labels, final.work);
    if (final.draftWork) deps.metrics.draftWorkPositions.inc(labels, final.draftWork);
    if (final.drafted) deps.metrics.draftedTokens.inc(labels, final.drafted);
    if (final.accepted) deps.metrics.acceptedTokens.inc(labels, final.accepted);
  } catch (e) {
    if (e instanceof Cancelled) outcome = `cancelled_${e.reason}`;
    else if (signal.aborted && signal.reason instanceof Cancelled) outcome = `cancelled_${signal.reason.reason}`;
    throw signal.aborted && signal.reason instanceof Cancelled ? signal.reason : e;
  } finally {
    await it.return(undefined as never).catch(() => undefined);
    leave();
    release();
    deps.metrics.generations.inc({ model: p.modelName, outcome });
    deps.metrics.generationSeconds.observe((performance.now() - queuedAt - queuedMs) / 1000, { model: p.modelName });
  }
}

type Events = AsyncGenerator<GenerationEvent, GenerationResult>;

async function jsonAnswer(res: ServerResponse, request: GenerationRequest, p: Plan, meta: ResponseMeta, it: Events, queuedMs: number): Promise<GenerationResult> {
  const final = await returnValue(it);
  const timings = timingsOf(final, p.strategy, queuedMs, p.genLength);
  const body = request.endpoint === 'chat' ? chatResponse(meta, final, timings) : completionResponse(meta, final, timings);
  const text = JSON.stringify(body);
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
  return final;
}

async function streamAnswer(
  res: ServerResponse,
  request: GenerationRequest,
  p: Plan,
  meta: ResponseMeta,
  it: Events,
  queuedMs: number,
  signal: AbortSignal,
): Promise<GenerationResult> {
  const sse = new SseWriter(res);
  const endpoint = request.endpoint;
  const usageField = request.includeUsage;
  const canvas = request.canvas && p.genLength !== null;
  let first = true;
  const send = async (c: Record<string, unknown>): Promise<void> => {
    if (!(await sse.send(c))) throw signal.aborted ? signal.reason : new Cancelled('disconnect');
  };
  // The first event is awaited before anything is written, so a prompt the model refuses
  // (too long for its context, …) still gets a proper 400 instead of an error inside a 200 stream.
  for (;;) {
    const n = await it.next();
    if (n.done) return n.value;
    const ev = n.value;
    if (first) {
      first = false;
      sse.start(); // the model accepted the prompt: open the stream now, not at the first text
      if (endpoint === 'chat') await send(chunk(endpoint, meta, { text: '', finishReason: null, first: true, usageField }));
      if (canvas) await send(chunk(endpoint, meta, { text: '', finishReason: null, usageField, extra: { paradec_canvas: canvasStart(p.genLength!) } }));
    }
    if (ev.type === 'step') {
      if (canvas) await send(chunk(endpoint, meta, { text: '', finishReason: null, usageField, extra: { paradec_canvas: canvasStep(ev, p.genLength!) } }));
    } else if (ev.type === 'verify') {
      // autoregressive: one frame per target forward with the drafts it accepted (canvas mode only)
      if (request.canvas) {
        const frame = { nfe: ev.nfe, tokens: ev.tokens.length, drafted: ev.drafted, accepted: ev.accepted };
        await send(chunk(endpoint, meta, { text: '', finishReason: null, usageField, extra: { paradec_verify: frame } }));
      }
    } else if (ev.type === 'text') {
      if (ev.delta) await send(chunk(endpoint, meta, { text: ev.delta, finishReason: null, usageField }));
    } else {
      const timings: Timings = timingsOf(ev, p.strategy, queuedMs, p.genLength);
      const extra: Record<string, unknown> = { timings };
      if (canvas) extra['paradec_canvas'] = canvasEnd(ev.nfe, p.genLength!, ev.committedAt);
      await send(chunk(endpoint, meta, { text: '', finishReason: ev.finishReason, usageField, extra }));
      if (request.includeUsage) await send(usageChunk(endpoint, meta, { prompt_tokens: ev.usage.promptTokens, completion_tokens: ev.usage.completionTokens, total_tokens: ev.usage.totalTokens }));
      await sse.done();
      const { type: _type, ...result } = ev;
      return result;
    }
  }
}
