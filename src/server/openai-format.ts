/**
 * OpenAI response shapes: `text_completion` and `chat.completion` objects, their streaming
 * chunks, `usage`, and paradec's `timings` extension (llama.cpp's name for the same idea).
 */
import { randomBytes } from 'node:crypto';
import type { GenerationResult, ScheduleReport } from '../api.js';

export type Endpoint = 'completions' | 'chat';

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** paradec's per-request numbers: forward passes, work, tokens per forward, drafts, milliseconds. */
export interface Timings {
  strategy: string;
  /** model forward passes (NFE: sequential passes, the latency proxy); a draft model's passes are not included */
  forward_passes: number;
  /**
   * positions the model computed over those passes (rows × tokens: a batched forward over several
   * candidate canvases or verification rows counts all of them); a draft model's are in draft_work
   */
  work: number;
  /** autoregressive: positions fed to the strategy's draft models; null for diffusion */
  draft_work: number | null;
  tokens_per_forward: number;
  /** llama.cpp-style fields */
  prompt_n: number;
  predicted_n: number;
  predicted_ms: number;
  predicted_per_second: number;
  /** time spent waiting for a free generation slot */
  queued_ms: number;
  /** diffusion: the canvas length */
  gen_length: number | null;
  /** draft-and-verify: draft tokens proposed and accepted, accepted / proposed, accepted per verify pass */
  drafted: number | null;
  accepted: number | null;
  draft_acceptance: number | null;
  accepted_per_verify: number | null;
  /**
   * diffusion: which schedule set each step's count (GenerationResult.schedule, snake_case) and
   * whether the end-of-text fill was on; null for autoregressive models
   */
  schedule: ScheduleTimings | null;
}

export interface ScheduleTimings {
  kind: 'steps' | 'strategy' | 'mixed';
  steps: number;
  base_steps: number;
  strategy_steps: number;
  one_token_steps: number;
  guarantee_steps: number;
  eos_fill: boolean;
  eos_filled: number;
}

export function newId(endpoint: Endpoint): string {
  return (endpoint === 'chat' ? 'chatcmpl-' : 'cmpl-') + randomBytes(12).toString('hex');
}

export function usageOf(r: GenerationResult): OpenAiUsage {
  return { prompt_tokens: r.usage.promptTokens, completion_tokens: r.usage.completionTokens, total_tokens: r.usage.totalTokens };
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

export function timingsOf(r: GenerationResult, strategy: string, queuedMs: number, genLength: number | null): Timings {
  const drafted = r.drafted ?? null;
  const accepted = r.accepted ?? null;
  const hasDrafts = drafted !== null && drafted > 0;
  return {
    strategy,
    forward_passes: r.nfe,
    work: r.work,
    draft_work: r.draftWork ?? null,
    tokens_per_forward: round(r.tokensPerForward),
    prompt_n: r.usage.promptTokens,
    predicted_n: r.usage.completionTokens,
    predicted_ms: round(r.ms, 1),
    predicted_per_second: r.ms > 0 ? round((1000 * r.usage.completionTokens) / r.ms, 2) : 0,
    queued_ms: round(queuedMs, 1),
    gen_length: genLength,
    drafted,
    accepted,
    draft_acceptance: hasDrafts ? round(accepted! / drafted) : null,
    accepted_per_verify: hasDrafts && r.nfe > 0 ? round(accepted! / r.nfe) : null,
    schedule: r.schedule ? scheduleTimings(r.schedule) : null,
  };
}

function scheduleTimings(s: ScheduleReport): ScheduleTimings {
  return {
    kind: s.kind,
    steps: s.steps,
    base_steps: s.baseSteps,
    strategy_steps: s.strategySteps,
    one_token_steps: s.oneTokenSteps,
    guarantee_steps: s.guaranteeSteps,
    eos_fill: s.eosFill,
    eos_filled: s.eosFilled,
  };
}

export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
}

export function completionResponse(meta: ResponseMeta, r: GenerationResult, timings: Timings) {
  return {
    id: meta.id,
    object: 'text_completion' as const,
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, text: r.text, logprobs: null, finish_reason: r.finishReason }],
    usage: usageOf(r),
    timings,
  };
}

export function chatResponse(meta: ResponseMeta, r: GenerationResult, timings: Timings) {
  return {
    id: meta.id,
    object: 'chat.completion' as const,
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message: { role: 'assistant' as const, content: r.text, refusal: null }, logprobs: null, finish_reason: r.finishReason }],
    usage: usageOf(r),
    timings,
  };
}

export interface ChunkParts {
  /** new text (may be empty) */
  text: string;
  finishReason: 'stop' | 'length' | null;
  /** chat: the first chunk carries the assistant role */
  first?: boolean;
  /** with stream_options.include_usage every chunk has `usage: null` except the last */
  usageField?: boolean;
  extra?: Record<string, unknown>;
}

export function chunk(endpoint: Endpoint, meta: ResponseMeta, p: ChunkParts): Record<string, unknown> {
  const base: Record<string, unknown> =
    endpoint === 'chat'
      ? {
          id: meta.id,
          object: 'chat.completion.chunk',
          created: meta.created,
          model: meta.model,
          choices: [
            {
              index: 0,
              delta: p.first ? { role: 'assistant', content: p.text } : p.text || p.finishReason === null ? { content: p.text } : {},
              logprobs: null,
              finish_reason: p.finishReason,
            },
          ],
        }
      : {
          id: meta.id,
          object: 'text_completion',
          created: meta.created,
          model: meta.model,
          choices: [{ index: 0, text: p.text, logprobs: null, finish_reason: p.finishReason }],
        };
  if (p.usageField) base['usage'] = null;
  return { ...base, ...p.extra };
}

/** The extra chunk `stream_options.include_usage` asks for: no choices, the usage. */
export function usageChunk(endpoint: Endpoint, meta: ResponseMeta, usage: OpenAiUsage): Record<string, unknown> {
  return {
    id: meta.id,
    object: endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [],
    usage,
  };
}
