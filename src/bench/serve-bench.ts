/**
 * The serving benchmark (`paradec bench-serve`), in the manner of vLLM's `benchmark_serving` and
 * llama.cpp's server bench: streaming completion requests against an OpenAI-compatible server at
 * a fixed concurrency (N clients, each sending its next request when the last one ends) or a
 * fixed request rate (Poisson arrivals), prompts drawn from the task suite. Per level: requests/s,
 * output tokens/s, time to first token, inter-token latency and end-to-end latency (p50, p99),
 * errors. Only the HTTP API is used, so any server speaking it can be measured.
 */
import { sseData } from '../server/sse.js';
import { Rng } from '../tasks/rng.js';
import { generateSuite, TASK_NAMES, type TaskName } from '../tasks/suite.js';
import { quantile } from './stats.js';

export interface ServeBenchTarget {
  /** the server's base URL (http://host:port) */
  url: string;
  apiKey?: string | null;
  /** the `model` field of each request (default: the server's default model) */
  model?: string;
  /** request fields added to every request (strategy, strategy_options, max_tokens, …) */
  fields?: Record<string, unknown>;
}

export type Load = { concurrency: number } | { rate: number };

export interface ServeBenchOptions {
  load: Load;
  /** requests measured at this level */
  requests: number;
  /** requests sent first and not measured (default: the concurrency, or 2) */
  warmup?: number;
  seed: number;
  tasks?: readonly TaskName[];
  /** per request (default 120 s) */
  timeoutMs?: number;
}

export interface RequestRecord {
  ok: boolean;
  error?: string;
  /** ms from sending to the first text / to the end */
  ttftMs: number | null;
  e2eMs: number;
  /** ms between consecutive text chunks */
  itlMs: number[];
  outputTokens: number;
}

export interface LevelResult {
  load: Load;
  requests: number;
  completed: number;
  errors: number;
  /** the first error messages (deduplicated) */
  errorSamples: string[];
  durationS: number;
  requestsPerS: number;
  outputTokensPerS: number;
  meanOutputTokens: number;
  ttftMs: { p50: number | null; p99: number | null };
  itlMs: { p50: number | null; p99: number | null };
  e2eMs: { p50: number | null; p99: number | null };
}

/** The prompts of a run: task-suite instances, in a seeded random order. */
export function benchPrompts(count: number, seed: number, tasks?: readonly TaskName[]): string[] {
  const perTask = Math.max(1, Math.ceil(count / (tasks?.length ?? TASK_NAMES.length)));
  const suite = generateSuite({ seed, n: perTask, ...(tasks ? { tasks } : {}) });
  const rng = new Rng(seed);
  for (let i = suite.length - 1; i > 0; i--) {
    const j = Math.floor(rng.float() * (i + 1));
    [suite[i], suite[j]] = [suite[j]!, suite[i]!];
  }
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(suite[i % suite.length]!.prompt);
  return out;
}

/** One streaming completion request, timed chunk by chunk. */
export async function timedRequest(target: ServeBenchTarget, prompt: string, timeoutMs: number): Promise<RequestRecord> {
  const started = performance.now();
  const body = { ...(target.model ? { model: target.model } : {}), temperature: 0, ...target.fields, prompt, stream: true, stream_options: { include_usage: true } };
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (target.apiKey) headers['Authorization'] = `Bearer ${target.apiKey}`;
  const fail = (error: string): RequestRecord => ({ ok: false, error, ttftMs: null, e2eMs: performance.now() - started, itlMs: [], outputTokens: 0 });
  let res: Response;
  try {
    res = await fetch(`${target.url}/v1/completions`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    return fail(`request failed: ${(e as Error).message}`);
  }
  if (!res.ok || !res.body) {
    const text = await res.text().catch(() => '');
    let message = text.slice(0, 200);
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // not JSON: keep the text
    }
    return fail(`HTTP ${res.status}: ${message}`);
  }
  let ttft: number | null = null;
  let last = 0;
  const itl: number[] = [];
  let outputTokens = 0;
  try {
    for await (const data of sseData(res)) {
      if (data === '[DONE]') continue;
      const chunk = data as { choices?: { text?: string }[]; usage?: { completion_tokens?: number }; error?: { message?: string } };
      if (chunk.error) return fail(`stream error: ${chunk.error.message ?? 'unknown'}`);
      if (chunk.usage?.completion_tokens !== undefined) outputTokens = chunk.usage.completion_tokens;
      if (chunk.choices?.[0]?.text) {
        const now = performance.now() - started;
        if (ttft === null) ttft = now;
        else itl.push(now - last);
        last = now;
      }
    }
  } catch (e) {
    return fail(`stream broke: ${(e as Error).message}`);
  }
  return { ok: true, ttftMs: ttft, e2eMs: performance.now() - started, itlMs: itl, outputTokens };
}

/** Run one load level: warm-up requests (not measured), then `requests` measured ones. */
export async function runLevel(target: ServeBenchTarget, options: ServeBenchOptions): Promise<LevelResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const concurrency = 'concurrency' in options.load ? options.load.concurrency : null;
  const warmup = options.warmup ?? concurrency ?? 2;
  const prompts = benchPrompts(warmup + options.requests, options.seed, options.tasks);
  if (warmup > 0) await Promise.all(prompts.slice(0, warmup).map((p) => timedRequest(target, p, timeoutMs)));
  const measured = prompts.slice(warmup);
  const records: RequestRecord[] = [];
  const started = performance.now();
  if (concurrency !== null) {
    let next = 0;
    const client = async (): Promise<void> => {
      while (next < measured.length) records.push(await timedRequest(target, measured[next++]!, timeoutMs));
    };
    await Promise.all(Array.from({ length: concurrency }, client));
  } else {
    const rate = (options.load as { rate: number }).rate;
    const rng = new Rng(options.seed + 1);
    const inFlight: Promise<void>[] = [];
    for (const prompt of measured) {
      inFlight.push(timedRequest(target, prompt, timeoutMs).then((r) => void records.push(r)));
      // Poisson arrivals: exponential gaps with mean 1 / rate
      const gap = (-Math.log(1 - rng.float()) / rate) * 1000;
      await new Promise((r) => setTimeout(r, gap));
    }
    await Promise.all(inFlight);
  }
  return summarize(options.load, records, (performance.now() - started) / 1000);
}

export function summarize(load: Load, records: readonly RequestRecord[], durationS: number): LevelResult {
  const ok = records.filter((r) => r.ok);
  const tokens = ok.reduce((n, r) => n + r.outputTokens, 0);
  const pct = (values: number[]): { p50: number | null; p99: number | null } =>
    values.length ? { p50: quantile(values, 0.5), p99: quantile(values, 0.99) } : { p50: null, p99: null };
  return {
    load,
    requests: records.length,
    completed: ok.length,
    errors: records.length - ok.length,
    errorSamples: [...new Set(records.filter((r) => !r.ok).map((r) => r.error!))].slice(0, 5),
    durationS,
    requestsPerS: ok.length / durationS,
    outputTokensPerS: tokens / durationS,
    meanOutputTokens: ok.length ? tokens / ok.length : 0,
    ttftMs: pct(ok.flatMap((r) => (r.ttftMs === null ? [] : [r.ttftMs]))),
    itlMs: pct(ok.flatMap((r) => r.itlMs)),
    e2eMs: pct(ok.map((r) => r.e2eMs)),
  };
}

function fmt(v: number | null, digits = 1): string {
  return v === null || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

export function loadLabel(load: Load): string {
  return 'concurrency' in load ? `${load.concurrency} clients` : `${load.rate} req/s`;
}

/** The markdown table of a run's levels. */
export function levelsTable(levels: readonly LevelResult[]): string {
  const head = ['load', 'requests', 'errors', 'req/s', 'output tok/s', 'TTFT p50 ms', 'TTFT p99 ms', 'ITL p50 ms', 'ITL p99 ms', 'e2e p50 ms', 'e2e p99 ms'];
  const rows = levels.map((l) => [
    loadLabel(l.load),
    String(l.requests),
    String(l.errors),
    fmt(l.requestsPerS, 2),
    fmt(l.outputTokensPerS, 0),
    fmt(l.ttftMs.p50),
    fmt(l.ttftMs.p99),
    fmt(l.itlMs.p50),
    fmt(l.itlMs.p99),
    fmt(l.e2eMs.p50, 0),
    fmt(l.e2eMs.p99, 0),
  ]);
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
