/**
 * Prometheus metrics in the text exposition format (version 0.0.4), written by hand: counters,
 * gauges and histograms with labels are a few dozen lines, and a dependency such as prom-client
 * would bring a global registry and default process metrics we do not need.
 *
 * Label values come only from bounded sets (endpoint names, status codes, configured model
 * names, outcome names), so the number of series cannot grow with traffic.
 */

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  return '{' + keys.map((k) => `${k}="${esc(labels[k]!)}"`).join(',') + '}';
}

function withLabel(key: string, extra: string): string {
  return key === '' ? `{${extra}}` : `${key.slice(0, -1)},${extra}}`;
}

function fmt(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(10)));
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k} ${fmt(v)}`);
    return lines.join('\n');
  }
}

/** A counter kept elsewhere (continuous batching's statistics), read when the metrics are rendered. */
export class SampledCounter implements Metric {
  constructor(readonly name: string, readonly help: string, private readonly read: () => [Labels, number][]) {}
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [labels, v] of this.read()) lines.push(`${this.name}${labelKey(labels)} ${fmt(v)}`);
    return lines.join('\n');
  }
}

export class Gauge implements Metric {
  constructor(readonly name: string, readonly help: string, private readonly read: () => number) {}
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${fmt(this.read())}`].join('\n');
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}
  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    this.buckets.forEach((b, i) => {
      if (value <= b) s.counts[i]! += 1;
    });
    s.sum += value;
    s.count += 1;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket${withLabel(k, `le="${fmt(b)}"`)} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket${withLabel(k, 'le="+Inf"')} ${s.count}`);
      lines.push(`${this.name}_sum${k} ${fmt(s.sum)}`);
      lines.push(`${this.name}_count${k} ${s.count}`);
    }
    return lines.join('\n');
  }
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** The server's metrics. */
export class ServerMetrics {
  readonly requests = new Counter('paradec_requests_total', 'HTTP requests answered, by endpoint and status code');
  readonly promptTokens = new Counter('paradec_prompt_tokens_total', 'prompt tokens of completed generations');
  readonly completionTokens = new Counter('paradec_completion_tokens_total', 'completion tokens of completed generations');
  readonly forwardPasses = new Counter('paradec_forward_passes_total', 'model forward passes of completed generations');
  readonly workPositions = new Counter('paradec_work_positions_total', 'positions computed by the model (rows × tokens per forward) in completed generations');
  readonly draftWorkPositions = new Counter('paradec_draft_work_positions_total', 'positions computed by draft models in completed generations');
  readonly draftedTokens = new Counter('paradec_draft_tokens_total', 'draft tokens proposed (draft-and-verify strategies)');
  readonly acceptedTokens = new Counter('paradec_draft_tokens_accepted_total', 'draft tokens accepted (draft-and-verify strategies)');
  readonly generations = new Counter('paradec_generations_total', 'generations by outcome (completed, error, cancelled_disconnect, cancelled_timeout, cancelled_shutdown)');
  readonly rejected = new Counter('paradec_rejected_total', 'requests refused with 503 because the queue was full or the server was shutting down');
  readonly requestSeconds = new Histogram('paradec_request_duration_seconds', 'time from request to the end of the answer', SECONDS);
  readonly queueSeconds = new Histogram('paradec_queue_wait_seconds', 'time a generation waited for a free slot', SECONDS);
  readonly generationSeconds = new Histogram('paradec_generation_duration_seconds', 'time spent generating, by model', SECONDS);
  private readonly gauges: Gauge[];
  private readonly batched: SampledCounter;

  constructor(state: { queued: () => number; running: () => number; batching?: () => { model: string; batches: number; calls: number }[] }) {
    this.batched = new SampledCounter('paradec_batched_forwards_total', 'continuous batching: batched forwards run (kind="batches") and the generations\' forwards they carried (kind="calls")', () =>
      (state.batching?.() ?? []).flatMap((b) => [
        [{ model: b.model, kind: 'batches' }, b.batches] as [Labels, number],
        [{ model: b.model, kind: 'calls' }, b.calls] as [Labels, number],
      ]),
    );
    this.gauges = [
      new Gauge('paradec_queue_depth', 'generations waiting for a slot', state.queued),
      new Gauge('paradec_active_generations', 'generations running now', state.running),
    ];
  }

  render(): string {
    const all: Metric[] = [
      this.requests,
      this.promptTokens,
      this.completionTokens,
      this.forwardPasses,
      this.workPositions,
      this.draftWorkPositions,
      this.batched,
      this.draftedTokens,
      this.acceptedTokens,
      this.generations,
      this.rejected,
      this.requestSeconds,
      this.queueSeconds,
      this.generationSeconds,
      ...this.gauges,
    ];
    return all.map((m) => m.render()).join('\n') + '\n';
  }
}
