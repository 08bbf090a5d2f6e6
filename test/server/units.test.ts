/** The server's parts on their own: the limiter, the metrics text, request parsing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Limiter } from '../../src/server/limiter.js';
import { Counter, Histogram, ServerMetrics } from '../../src/server/metrics.js';
import { parseChatRequest, parseCompletionRequest } from '../../src/server/schema.js';
import { HttpError } from '../../src/server/http-error.js';

test('limiter: slots first, then a FIFO queue, then 503 with Retry-After', async () => {
  const limiter = new Limiter(2, 2);
  const r1 = await limiter.acquire();
  const r2 = await limiter.acquire();
  const order: number[] = [];
  const q3 = limiter.acquire().then((release) => (order.push(3), release));
  const q4 = limiter.acquire().then((release) => (order.push(4), release));
  assert.equal(limiter.running, 2);
  assert.equal(limiter.queued, 2);
  await assert.rejects(limiter.acquire(), (e: unknown) => e instanceof HttpError && e.status === 503 && e.details.headers?.['Retry-After'] === '1');
  r1();
  r1(); // releasing twice is harmless
  const r3 = await q3;
  r2();
  const r4 = await q4;
  assert.deepEqual(order, [3, 4]);
  assert.equal(limiter.running, 2);
  r3();
  r4();
  assert.equal(limiter.running, 0);
  assert.equal(limiter.queued, 0);
});

test('limiter: an aborted waiter leaves the queue; close() fails the queue', async () => {
  const limiter = new Limiter(1, 3);
  const release = await limiter.acquire();
  const ac = new AbortController();
  const waiting = limiter.acquire(ac.signal);
  const other = limiter.acquire();
  assert.equal(limiter.queued, 2);
  ac.abort(new Error('gone'));
  await assert.rejects(waiting, /gone/);
  assert.equal(limiter.queued, 1);
  limiter.close();
  await assert.rejects(other, (e: unknown) => e instanceof HttpError && e.status === 503 && /shutting down/.test(e.message));
  await assert.rejects(limiter.acquire(), /shutting down/);
  release();
  assert.equal(limiter.running, 0);
});

test('metrics: Prometheus text with escaped labels and cumulative histogram buckets', () => {
  const c = new Counter('x_total', 'help');
  c.inc({ a: 'q"uote\\' });
  c.inc({ a: 'q"uote\\' }, 2);
  assert.match(c.render(), /^x_total\{a="q\\"uote\\\\"\} 3$/m);
  const h = new Histogram('h_seconds', 'help', [0.1, 1]);
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const text = h.render();
  assert.match(text, /^# TYPE h_seconds histogram$/m);
  assert.match(text, /^h_seconds_bucket\{le="0.1"\} 1$/m);
  assert.match(text, /^h_seconds_bucket\{le="1"\} 2$/m);
  assert.match(text, /^h_seconds_bucket\{le="\+Inf"\} 3$/m);
  assert.match(text, /^h_seconds_sum 5.55$/m);
  assert.match(text, /^h_seconds_count 3$/m);
  const m = new ServerMetrics({ queued: () => 2, running: () => 1 });
  assert.match(m.render(), /^paradec_queue_depth 2$/m);
  assert.match(m.render(), /^paradec_active_generations 1$/m);
});

test('schema: defaults, chat text parts, extension fields, unknown fields kept aside', () => {
  const limits = { maxTokens: 64 };
  const c = parseCompletionRequest({ prompt: ['w5'], stop: 'x', user: 'me', tau: 0.5, seed: null }, limits);
  assert.equal(c.prompt, 'w5');
  assert.deepEqual(c.stop, ['x']);
  assert.equal(c.seed, undefined);
  assert.equal(c.stream, false);
  assert.deepEqual(c.extraFields, { user: 'me', tau: 0.5 });
  const chat = parseChatRequest(
    {
      messages: [{ role: 'user', content: [{ type: 'text', text: 'w5 ' }, { type: 'text', text: 'w6' }] }],
      max_completion_tokens: 7,
      stream: true,
      stream_options: { include_usage: true },
      presence_penalty: 0,
      tools: [],
    },
    limits,
  );
  assert.deepEqual(chat.prompt, [{ role: 'user', content: 'w5 w6' }]);
  assert.equal(chat.maxTokens, 7);
  assert.equal(chat.includeUsage, true);
  assert.throws(() => parseCompletionRequest({ prompt: 'w5', max_tokens: 65 }, limits), (e: unknown) => e instanceof HttpError && e.details.param === 'max_tokens');
  assert.throws(() => parseChatRequest({ messages: [{ role: 'user' }] }, limits), (e: unknown) => e instanceof HttpError && /^messages\[0\]\.content/.test(e.message));
});
