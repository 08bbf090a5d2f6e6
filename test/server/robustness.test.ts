/**
 * The server under abuse: malformed requests get a 400 naming the field (413 for big bodies,
 * 404 for unknown models), a full queue gets 503 + Retry-After, a client that disconnects
 * cancels its generation, the time limit cancels too, an API key is enforced, and after all of
 * it the server still answers and its heap is back at its baseline.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadModel, type ParadecModel } from '../../src/api.js';
import { AUTOREGRESSIVE_STRATEGIES, DIFFUSION_STRATEGIES } from '../../src/decode/registry.js';
import { startServer, type ParadecServer } from '../../src/server/app.js';
import { postJson, slowDiffusionModel, sseData, waitFor, writeFixture, type Fixture } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const BODY_LIMIT = 64 * 1024;
let fixture: Fixture;
let dlm: ParadecModel;
let ar: ParadecModel;
let slow: ParadecModel;
let server: ParadecServer; // fast models, generous queue
let busy: ParadecServer; // slow model, one slot, one queue place, short time limit

before(async () => {
  fixture = writeFixture('paradec-serve-robust-');
  dlm = await loadModel(fixture.llada, { threads: 1, cacheDir: fixture.cacheDir });
  ar = await loadModel(fixture.llama, { threads: 1, cacheDir: fixture.cacheDir });
  slow = await slowDiffusionModel(fixture, 25);
  server = await startServer({ models: [{ name: 'dlm', model: dlm }, { name: 'ar', model: ar }], port: 0, maxBodyBytes: BODY_LIMIT, maxQueue: 64 });
  busy = await startServer({ models: [{ name: 'slow', model: slow }], port: 0, maxConcurrent: 1, maxQueue: 1, requestTimeoutMs: 3000 });
});

after(async () => {
  await server?.close(500);
  await busy?.close(500);
  await dlm?.dispose();
  await ar?.dispose();
  await slow?.dispose();
  fixture?.cleanup();
});

async function healthy(s: ParadecServer): Promise<void> {
  const r = await postJson(`${s.url}/v1/completions`, { prompt: 'w5 w6', max_tokens: 4 });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(typeof r.json.choices[0].text, 'string');
}

const MALFORMED: [path: string, body: string | Uint8Array, status: number, message: RegExp][] = [
  ['/v1/completions', '{"prompt": "w5",', 400, /not valid JSON/],
  ['/v1/completions', '', 400, /empty/],
  ['/v1/completions', '[1, 2]', 400, /^request body: .*expected object/],
  ['/v1/completions', 'null', 400, /^request body/],
  ['/v1/completions', '{"max_tokens": 4}', 400, /^prompt: /],
  ['/v1/completions', '{"prompt": 5}', 400, /^prompt: /],
  ['/v1/completions', '{"prompt": ["w5", "w6"]}', 400, /^prompt: /],
  ['/v1/completions', '{"prompt": "w5", "max_tokens": "8"}', 400, /^max_tokens: .*expected number/],
  ['/v1/completions', '{"prompt": "w5", "max_tokens": 1e12}', 400, /^max_tokens: Too big/],
  ['/v1/completions', '{"prompt": "w5", "max_tokens": -1}', 400, /^max_tokens: Too small/],
  ['/v1/completions', '{"prompt": "w5", "gen_length": 100000}', 400, /^gen_length: Too big/],
  ['/v1/completions', '{"prompt": "w5", "temperature": 1e308}', 400, /^temperature: /],
  ['/v1/completions', '{"prompt": "w5", "seed": 1.5}', 400, /^seed: /],
  ['/v1/completions', '{"prompt": "w5", "seed": 1e300}', 400, /^seed: /],
  ['/v1/completions', '{"prompt": "w5", "stop": [""]}', 400, /^stop/],
  ['/v1/completions', '{"prompt": "w5", "stream": "yes"}', 400, /^stream: /],
  ['/v1/completions', '{"prompt": "w5", "n": 3}', 400, /^n: only n = 1/],
  ['/v1/completions', '{"prompt": "w5", "logprobs": 5}', 400, /^logprobs: logprobs is not supported/],
  ['/v1/completions', '{"prompt": "w5", "strategy": "nope"}', 400, /^strategy: unknown strategy 'nope'/],
  ['/v1/completions', '{"prompt": "w5", "strategy": "greedy"}', 400, /^strategy: .*autoregressive/],
  ['/v1/completions', '{"prompt": "w5", "strategy_options": {"k": "two"}}', 400, /^strategy_options: .*'k'/],
  ['/v1/completions', '{"prompt": "w5", "strategy_options": {"kk": 1}}', 400, /unknown option 'kk'/],
  ['/v1/completions', '{"prompt": "w5", "strategy": "threshold", "tau": 3}', 400, /tau/],
  ['/v1/completions', '{"prompt": "w5", "strategy": "threshold", "tau": 0.5, "strategy_options": {"tau": 0.6}}', 400, /^tau: given both/],
  ['/v1/completions', '{"prompt": "w5", "strategy": "learn2pd", "strategy_options": {"filter": "/etc/passwd"}}', 400, /filter/],
  ['/v1/completions', '{"prompt": "w5", "top_p": 0.5}', 400, /top_p/],
  ['/v1/completions', `{"prompt": "${'w5 '.repeat(3000)}"}`, 400, /context/],
  ['/v1/completions', '{"model": "nope", "prompt": "w5"}', 404, /model 'nope' not found/],
  ['/v1/chat/completions', '{"messages": []}', 400, /^messages: Too small/],
  ['/v1/chat/completions', '{"messages": "hi"}', 400, /^messages: /],
  ['/v1/chat/completions', '{"messages": [{"role": "wizard", "content": "w5"}]}', 400, /^messages\[0\]\.role: /],
  ['/v1/chat/completions', '{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}', 400, /^messages\[0\]\.content: /],
  ['/v1/chat/completions', '{"messages": [{"role": "user", "content": "w5"}], "tools": [{"type": "function"}]}', 400, /^tools: /],
  ['/v1/chat/completions', '{"model": "ar", "messages": [{"role": "user", "content": "w5"}], "gen_length": 4}', 400, /gen_length/],
  ['/v1/completions', new Uint8Array([0x7b, 0x22, 0x70, 0x72, 0x6f, 0x6d, 0x70, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 400, /not valid UTF-8/],
  ['/v1/completions', `{"prompt": "${'x'.repeat(BODY_LIMIT)}"}`, 413, /over the limit/],
];

test('malformed requests: 400/404/413 naming the culprit, and the server keeps serving', async () => {
  for (const [path, body, status, message] of MALFORMED) {
    const r = await postJson(`${server.url}${path}`, body);
    const label = `${path} ${typeof body === 'string' ? body.slice(0, 80) : '<bytes>'}`;
    assert.equal(r.status, status, `${label}: ${JSON.stringify(r.json)}`);
    assert.match(r.json.error.message, message, label);
    assert.equal(typeof r.json.error.type, 'string');
  }
  await healthy(server);
});

test('free-form string strategy parameters may not carry file paths', async () => {
  const withString = DIFFUSION_STRATEGIES.flatMap((d) =>
    Object.entries(d.params)
      .filter(([, spec]) => spec.type === 'string' && !spec.choices)
      .map(([key]) => [d.name, key] as const),
  );
  for (const [strategy, key] of withString) {
    for (const value of ['/etc/passwd', '../models', '~/x']) {
      const r = await postJson(`${server.url}/v1/completions`, { prompt: 'w5', strategy, strategy_options: { [key]: value } });
      assert.equal(r.status, 400, `${strategy}.${key}=${value}`);
      assert.match(r.json.error.message, new RegExp(`^strategy_options\\.${key}: `));
    }
  }
});

test('bodies over the limit without a Content-Length (chunked) get 413 too', async () => {
  const piece = new TextEncoder().encode('x'.repeat(16 * 1024));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= 8) return controller.close();
      sent += 1;
      controller.enqueue(piece);
    },
  });
  const res = await fetch(`${server.url}/v1/completions`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
  assert.equal(res.status, 413);
  await res.text();
  await healthy(server);
});

test('routes: 405 with Allow, 404 for unknown paths, health, metrics', async () => {
  const get = await fetch(`${server.url}/v1/completions`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'POST');
  await get.text();
  for (const path of ['/v1/nothing', '/nothing.html', '/../package.json', '/%2e%2e/package.json']) {
    const r = await fetch(`${server.url}${path}`);
    assert.equal(r.status, 404, path);
    await r.text();
  }
  const health = await (await fetch(`${server.url}/health`)).json();
  assert.equal(health.status, 'ok');
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /^# TYPE paradec_requests_total counter$/m);
  assert.match(metrics, /^paradec_requests_total\{code="400",endpoint="completions"\} \d+$/m);
  assert.match(metrics, /^paradec_request_duration_seconds_bucket\{endpoint="completions",le="\+Inf"\} \d+$/m);
  assert.match(metrics, /^paradec_completion_tokens_total\{model="dlm"\} \d+$/m);
  assert.match(metrics, /^paradec_forward_passes_total\{model="dlm"\} \d+$/m);
  const work = Number(/^paradec_work_positions_total\{model="dlm"\} (\d+)$/m.exec(metrics)?.[1]);
  const passes = Number(/^paradec_forward_passes_total\{model="dlm"\} (\d+)$/m.exec(metrics)?.[1]);
  assert.ok(work >= passes && passes > 0, `work ${work} positions over ${passes} forwards`);
  const batches = Number(/^paradec_batched_forwards_total\{kind="batches",model="dlm"\} (\d+)$/m.exec(metrics)?.[1]);
  const calls = Number(/^paradec_batched_forwards_total\{kind="calls",model="dlm"\} (\d+)$/m.exec(metrics)?.[1]);
  assert.ok(batches > 0 && calls >= batches, `${calls} calls in ${batches} batched forwards`);
  assert.match(metrics, /^paradec_queue_depth 0$/m);
});

test('strategy listings: /v1/strategies is every registered strategy, /v1/models the ones of each model\'s family', async () => {
  const listed = await (await fetch(`${server.url}/v1/strategies`)).json();
  assert.equal(listed.object, 'list');
  assert.deepEqual(
    listed.data.map((s: { name: string; family: string }) => `${s.family}/${s.name}`),
    [...DIFFUSION_STRATEGIES.map((s) => `diffusion/${s.name}`), ...AUTOREGRESSIVE_STRATEGIES.map((s) => `autoregressive/${s.name}`)],
  );
  const threshold = listed.data.find((s: { name: string }) => s.name === 'threshold');
  assert.deepEqual(Object.keys(threshold), ['name', 'family', 'summary', 'paper', 'params']);
  assert.equal(threshold.params.tau.default, 0.9);
  const models = await (await fetch(`${server.url}/v1/models`)).json();
  const byId = new Map<string, { paradec: { strategies: string[] } }>(models.data.map((m: { id: string }) => [m.id, m]));
  assert.deepEqual(byId.get('dlm')?.paradec.strategies, DIFFUSION_STRATEGIES.map((s) => s.name));
  assert.deepEqual(byId.get('ar')?.paradec.strategies, AUTOREGRESSIVE_STRATEGIES.map((s) => s.name));
});

test('API key: /v1 and /metrics need it, the page and /health do not', async () => {
  const keyed = await startServer({ models: [{ name: 'dlm', model: dlm }], port: 0, apiKey: 'sekrit' });
  try {
    const none = await postJson(`${keyed.url}/v1/completions`, { prompt: 'w5', max_tokens: 2 });
    assert.equal(none.status, 401);
    const wrong = await postJson(`${keyed.url}/v1/completions`, { prompt: 'w5', max_tokens: 2 }, { headers: { Authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    const right = await postJson(`${keyed.url}/v1/completions`, { prompt: 'w5', max_tokens: 2 }, { headers: { Authorization: 'Bearer sekrit' } });
    assert.equal(right.status, 200);
    assert.equal((await fetch(`${keyed.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${keyed.url}/health`)).status, 200);
    assert.equal((await fetch(`${keyed.url}/`)).status, 200);
  } finally {
    await keyed.close(500);
  }
});

/** Start a canvas stream on the slow server and wait until its first frame arrived (slot held). */
async function holdSlot(s: ParadecServer, signal?: AbortSignal): Promise<{ res: Response; frames: AsyncGenerator<any> }> {
  const res = await fetch(`${s.url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: 'w5 w6', gen_length: 64, stream: true, paradec_canvas: true }), // 64 x 25 ms
    ...(signal ? { signal } : {}),
  });
  assert.equal(res.status, 200);
  const frames = sseData(res);
  await frames.next();
  return { res, frames };
}

test('overload: one running, one queued, the next gets 503 with Retry-After; the queued one is served', async () => {
  const a = await holdSlot(busy);
  const queued = postJson(`${busy.url}/v1/completions`, { prompt: 'w5', gen_length: 2 });
  await waitFor(() => busy.limiter.queued === 1, 2000, 'the second request to queue');
  const rejected = await postJson(`${busy.url}/v1/completions`, { prompt: 'w5', gen_length: 2 });
  assert.equal(rejected.status, 503);
  assert.equal(rejected.headers.get('retry-after'), '1');
  assert.match(rejected.json.error.message, /busy/);
  let last: unknown;
  for await (const d of a.frames) last = d;
  assert.equal(last, '[DONE]');
  assert.equal((await queued).status, 200);
  assert.equal(busy.limiter.queued, 0);
  const metrics = await (await fetch(`${busy.url}/metrics`)).text();
  assert.match(metrics, /^paradec_rejected_total\{reason="overloaded"\} [1-9]/m);
});

test('a client that disconnects mid-stream cancels its generation (running or queued)', async () => {
  const before = busy.metrics.generations.get({ model: 'slow', outcome: 'cancelled_disconnect' });
  const ac = new AbortController();
  const a = await holdSlot(busy, ac.signal);
  await a.frames.next();
  // a second one waits in the queue, then leaves
  const bc = new AbortController();
  const b = fetch(`${busy.url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: 'w5', gen_length: 32, stream: true }),
    signal: bc.signal,
  }).catch((e: unknown) => e);
  await waitFor(() => busy.limiter.queued === 1, 2000, 'the second request to queue');
  bc.abort();
  await b;
  await waitFor(() => busy.limiter.queued === 0, 1000, 'the queued request to leave the queue');
  const t0 = Date.now();
  ac.abort();
  // 62 more steps x 25 ms would take 1.5 s; cancellation stops it at the next step
  await waitFor(() => busy.limiter.running === 0 && busy.inFlight === 0, 800, 'the generation to stop');
  assert.ok(Date.now() - t0 < 800);
  await waitFor(() => busy.metrics.generations.get({ model: 'slow', outcome: 'cancelled_disconnect' }) === before + 1, 500, 'the metric');
  // non-streaming requests are cancelled the same way
  const cc = new AbortController();
  const c = postJson(`${busy.url}/v1/completions`, { prompt: 'w5', gen_length: 64 }, { signal: cc.signal }).catch((e: unknown) => e);
  await waitFor(() => busy.limiter.running === 1, 1000, 'the generation to start');
  await sleep(60);
  cc.abort();
  await c;
  await waitFor(() => busy.limiter.running === 0, 800, 'the non-streaming generation to stop');
  await healthy(busy);
});

test('the per-request time limit cancels a generation with 504', async () => {
  const limited = await startServer({ models: [{ name: 'slow', model: slow }], port: 0, requestTimeoutMs: 150 });
  try {
    const t0 = Date.now();
    const r = await postJson(`${limited.url}/v1/completions`, { prompt: 'w5', gen_length: 64 });
    assert.equal(r.status, 504);
    assert.match(r.json.error.message, /time limit/);
    assert.ok(Date.now() - t0 < 1200); // the whole generation would take 64 x 25 ms
    assert.equal(limited.metrics.generations.get({ model: 'slow', outcome: 'cancelled_timeout' }), 1);
  } finally {
    await limited.close(500);
  }
});

test('memory returns to its baseline after bad, oversized, aborted and rejected requests', async () => {
  const big = `{"prompt": "${'w5 '.repeat(Math.floor((BODY_LIMIT - 100) / 3))}", "max_tokens": "x"}`; // ~64 KiB, 400
  const round = async (): Promise<void> => {
    for (let i = 0; i < 30; i++) {
      const [path, body] = MALFORMED[i % MALFORMED.length]!;
      await postJson(`${server.url}${path}`, body);
      await postJson(`${server.url}/v1/completions`, big);
    }
    // aborted streams on the fast server
    for (let i = 0; i < 5; i++) {
      const ac = new AbortController();
      const res = await fetch(`${server.url}/v1/completions`, {
        method: 'POST',
        body: JSON.stringify({ prompt: 'w5 w6', gen_length: 64, stream: true, paradec_canvas: true }),
        signal: ac.signal,
      });
      const frames = sseData(res);
      await frames.next();
      ac.abort();
      await frames.next().catch(() => undefined);
    }
    // overload on the slow server
    const ac = new AbortController();
    const a = await holdSlot(busy, ac.signal);
    const q = postJson(`${busy.url}/v1/completions`, { prompt: 'w5', gen_length: 2 });
    await waitFor(() => busy.limiter.queued === 1, 2000, 'queueing');
    for (let i = 0; i < 5; i++) assert.equal((await postJson(`${busy.url}/v1/completions`, { prompt: 'w5' })).status, 503);
    ac.abort();
    await a.frames.next().catch(() => undefined);
    await q;
    await waitFor(() => server.inFlight === 0 && busy.inFlight === 0 && busy.limiter.running === 0, 2000, 'quiet');
  };
  const settle = async (): Promise<number> => {
    for (let i = 0; i < 4; i++) {
      gc();
      await sleep(20);
    }
    const m = process.memoryUsage();
    return m.heapUsed + m.external; // request bodies are Buffers: outside the JS heap, in `external`
  };
  await round(); // warm-up: JIT, lazily created structures, connection pools
  await round();
  const baseline = await settle();
  for (let r = 0; r < 4; r++) await round();
  const afterRounds = await settle();
  const grown = (afterRounds - baseline) / 2 ** 20;
  // 4 rounds push ~8 MiB of request bodies through (keeping each would add ~8 MiB); without a leak
  // the measure moves by about 1 MiB between runs
  assert.ok(grown < 4, `heap + external memory grew by ${grown.toFixed(2)} MiB (baseline ${(baseline / 2 ** 20).toFixed(1)} MiB)`);
  assert.equal(server.limiter.queued + server.limiter.running + busy.limiter.queued + busy.limiter.running, 0);
  await healthy(server);
});
