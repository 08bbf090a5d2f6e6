/**
 * Request validation for `/v1/completions` and `/v1/chat/completions`.
 *
 * zod schemas check every field's type and range; the first failing field becomes a 400 whose
 * message starts with the field's path (`max_tokens: Too big: …`, `messages[0].content: …`).
 * Unknown top-level fields are kept aside rather than rejected: OpenAI clients send fields of
 * their own, and a field named like a parameter of the chosen strategy is that parameter
 * (llama.cpp style, `{"strategy": "threshold", "tau": 0.8}`). OpenAI features paradec cannot
 * honour (logprobs, tools, n > 1, …) are rejected when set to anything but their default.
 */
import { z } from 'zod';
import type { ChatMessage } from '../model/tokenizer.js';
import { CACHE_MODES, type CacheMode } from '../decode/diffusion/cache.js';
import { HttpError } from './http-error.js';

export interface RequestLimits {
  /** largest max_tokens / gen_length / steps / block_length a request may ask for */
  maxTokens: number;
}

/** A validated generation request, the same for both endpoints. */
export interface GenerationRequest {
  endpoint: 'completions' | 'chat';
  model: string | undefined;
  prompt: string | ChatMessage[];
  stream: boolean;
  includeUsage: boolean;
  /** stream the diffusion canvas step by step (`paradec_canvas`) */
  canvas: boolean;
  strategy: string | undefined;
  strategyOptions: Record<string, unknown>;
  /** top-level fields the schema does not know; the ones named like strategy parameters are used */
  extraFields: Record<string, unknown>;
  maxTokens: number | undefined;
  temperature: number | undefined;
  topP: number | undefined;
  topK: number | undefined;
  seed: number | undefined;
  stop: string[] | undefined;
  genLength: number | undefined;
  steps: number | undefined;
  blockLength: number | undefined;
  cfgScale: number | undefined;
  /** diffusion: the end-of-text fill (GenerateOptions.eosFill; default on) */
  eosFill: boolean | undefined;
  /** diffusion KV cache mode and refresh interval (docs/caching.md) */
  cache: CacheMode | undefined;
  cacheRefresh: number | undefined;
}

/** Accept a field's default value only (null/absent included); anything else is a 400. */
function onlyDefault(isDefault: (v: unknown) => boolean, what: string) {
  return z
    .unknown()
    .refine((v) => v === undefined || v === null || isDefault(v), { error: `${what} is not supported by paradec` })
    .optional();
}

function commonShape(limits: RequestLimits) {
  const count = z.number().int().min(1).max(limits.maxTokens);
  const stopString = z.string().min(1).max(256);
  return {
    model: z.string().min(1).max(512).nullish(),
    max_tokens: count.nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().gt(0).max(1).nullish(),
    top_k: z.number().int().min(0).max(1_000_000).nullish(),
    seed: z.number().int().nullish(),
    stop: z.union([stopString, z.array(stopString).max(16)], { error: 'must be a non-empty string or an array of up to 16 of them' }).nullish(),
    n: z.literal(1, { error: 'only n = 1 is supported' }).nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
    // paradec extensions
    strategy: z.string().min(1).max(64).nullish(),
    strategy_options: z.record(z.string().max(64), z.union([z.number(), z.boolean(), z.string().max(4096), z.null()])).nullish(),
    gen_length: count.nullish(),
    steps: count.nullish(),
    block_length: count.nullish(),
    cfg_scale: z.number().min(0).max(100).nullish(),
    eos_fill: z.boolean().nullish(),
    cache: z.enum(CACHE_MODES as [CacheMode, ...CacheMode[]]).nullish(),
    cache_refresh: z.number().int().min(1).max(1_000_000).nullish(),
    paradec_canvas: z.boolean().nullish(),
    // OpenAI features paradec does not have: fine when left at their defaults
    presence_penalty: onlyDefault((v) => v === 0, 'presence_penalty'),
    frequency_penalty: onlyDefault((v) => v === 0, 'frequency_penalty'),
    logit_bias: onlyDefault((v) => typeof v === 'object' && Object.keys(v as object).length === 0, 'logit_bias'),
  };
}

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const chatMessage = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(textPart), z.null()], { error: 'must be a string or an array of {"type": "text", "text": …} parts' }),
});

export function completionSchema(limits: RequestLimits) {
  return z.looseObject({
    ...commonShape(limits),
    prompt: z.union([z.string(), z.tuple([z.string()])], { error: 'must be a string (or an array of exactly one string)' }),
    logprobs: onlyDefault((v) => v === 0, 'logprobs'),
    echo: onlyDefault((v) => v === false, 'echo'),
    best_of: onlyDefault((v) => v === 1, 'best_of'),
    suffix: onlyDefault((v) => v === '', 'suffix'),
  });
}

export function chatSchema(limits: RequestLimits) {
  return z.looseObject({
    ...commonShape(limits),
    messages: z.array(chatMessage).min(1).max(1000),
    max_completion_tokens: z.number().int().min(1).max(limits.maxTokens).nullish(),
    logprobs: onlyDefault((v) => v === false, 'logprobs'),
    top_logprobs: onlyDefault((v) => v === 0, 'top_logprobs'),
    tools: onlyDefault((v) => Array.isArray(v) && v.length === 0, 'tools'),
    tool_choice: onlyDefault((v) => v === 'none', 'tool_choice'),
    response_format: onlyDefault((v) => (v as { type?: unknown })?.type === 'text', 'response_format other than text'),
  });
}

function pathString(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

function parseWith<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = pathString(issue.path);
  throw new HttpError(400, `${path || 'request body'}: ${issue.message}`, { param: path || null, code: 'invalid_request' });
}

function knownKeys(schema: z.ZodObject): Set<string> {
  return new Set(Object.keys(schema.shape));
}

function extras(body: Record<string, unknown>, known: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!known.has(k)) out[k] = v;
  return out;
}

function messageText(content: string | { text: string }[] | null): string {
  if (content === null) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => p.text).join('');
}

type Common = z.output<z.ZodObject<ReturnType<typeof commonShape>>>;

function common(v: Common): Omit<GenerationRequest, 'endpoint' | 'prompt' | 'extraFields'> {
  const u = <T>(x: T | null | undefined): T | undefined => (x === null ? undefined : x);
  return {
    model: u(v.model),
    stream: v.stream ?? false,
    includeUsage: v.stream_options?.include_usage ?? false,
    canvas: v.paradec_canvas ?? false,
    strategy: u(v.strategy),
    strategyOptions: v.strategy_options ?? {},
    maxTokens: u(v.max_tokens),
    temperature: u(v.temperature),
    topP: u(v.top_p),
    topK: u(v.top_k),
    seed: u(v.seed),
    stop: v.stop === null || v.stop === undefined ? undefined : typeof v.stop === 'string' ? [v.stop] : v.stop,
    genLength: u(v.gen_length),
    steps: u(v.steps),
    blockLength: u(v.block_length),
    cfgScale: u(v.cfg_scale),
    eosFill: u(v.eos_fill),
    cache: u(v.cache),
    cacheRefresh: u(v.cache_refresh),
  };
}

/**
 * Schemas are built once per token limit and kept: zod compiles a schema on its first parse, and
 * building one per request cost every request ~3.7 ms (measured), several times its parse.
 */
const SCHEMAS = new Map<string, z.ZodObject>();

function memo<S extends z.ZodObject>(kind: string, limits: RequestLimits, build: (limits: RequestLimits) => S): S {
  const key = `${kind}:${limits.maxTokens}`;
  let schema = SCHEMAS.get(key) as S | undefined;
  if (!schema) SCHEMAS.set(key, (schema = build(limits)));
  return schema;
}

export function parseCompletionRequest(body: unknown, limits: RequestLimits): GenerationRequest {
  const schema = memo('completion', limits, completionSchema);
  const v = parseWith(schema, body);
  return {
    ...common(v),
    endpoint: 'completions',
    prompt: typeof v.prompt === 'string' ? v.prompt : v.prompt[0],
    extraFields: extras(v as Record<string, unknown>, knownKeys(schema)),
  };
}

export function parseChatRequest(body: unknown, limits: RequestLimits): GenerationRequest {
  const schema = memo('chat', limits, chatSchema);
  const v = parseWith(schema, body);
  const base = common(v);
  return {
    ...base,
    endpoint: 'chat',
    maxTokens: v.max_completion_tokens ?? base.maxTokens,
    prompt: v.messages.map((m) => ({ role: m.role, content: messageText(m.content) })),
    extraFields: extras(v as Record<string, unknown>, knownKeys(schema)),
  };
}
