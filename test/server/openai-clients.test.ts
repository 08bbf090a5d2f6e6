/**
 * Existing clients against a running server: the official `openai` package (completions, chat,
 * streaming, usage, errors) and the AI SDK's `@ai-sdk/openai-compatible` (generate and stream),
 * plus the paradec extensions (strategy fields, timings, the canvas stream).
 * Random-weight checkpoints: the text is noise, the protocol is what is tested.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, streamText } from 'ai';
import type { ParadecServer } from '../../src/server/app.js';
import { serve, sseData, writeFixture, type Fixture } from './helpers.js';

let fixture: Fixture;
let server: ParadecServer;
let client: OpenAI;

before(async () => {
  fixture = writeFixture('paradec-serve-clients-');
  server = await serve(fixture);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  await server?.close(1000);
  fixture?.cleanup();
});

test('openai: models.list and models.retrieve', async () => {
  const ids: string[] = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ['dlm', 'ar']);
  const dlm = (await client.models.retrieve('dlm')) as unknown as { paradec: { family: string; strategies: string[] } };
  assert.equal(dlm.paradec.family, 'diffusion');
  assert.ok(dlm.paradec.strategies.includes('threshold'));
});

test('openai: completion with usage and timings; streaming gives the same text', async () => {
  const params = { model: 'dlm', prompt: 'w5 w6 w7', max_tokens: 8, strategy: 'confidence', strategy_options: { k: 2 } };
  const res = await client.completions.create(params as OpenAI.CompletionCreateParamsNonStreaming);
  assert.equal(res.object, 'text_completion');
  const choice = res.choices[0]!;
  assert.ok(['stop', 'length'].includes(choice.finish_reason));
  assert.equal(typeof choice.text, 'string');
  const usage = res.usage!;
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  assert.ok(usage.prompt_tokens >= 3 && usage.completion_tokens <= 8);
  const timings = (res as unknown as { timings: Record<string, unknown> }).timings;
  assert.equal(timings['strategy'], 'confidence');
  assert.equal(timings['forward_passes'], 4); // 8 cells, 2 per step
  assert.equal(timings['gen_length'], 8);

  const stream = await client.completions.create({ ...params, stream: true, stream_options: { include_usage: true } } as OpenAI.CompletionCreateParamsStreaming);
  let text = '';
  let finish: string | null = null;
  let streamedUsage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    if (chunk.choices.length > 0) {
      text += chunk.choices[0]!.text;
      finish = chunk.choices[0]!.finish_reason ?? finish;
    }
    if (chunk.usage) streamedUsage = chunk.usage;
  }
  assert.equal(text, choice.text);
  assert.equal(finish, choice.finish_reason);
  assert.deepEqual(streamedUsage, usage);
});

test('openai: chat on an autoregressive model, plain and streamed', async () => {
  const res = await client.chat.completions.create({ model: 'ar', messages: [{ role: 'system', content: 'w9' }, { role: 'user', content: 'w5 w6' }], max_tokens: 6 });
  assert.equal(res.object, 'chat.completion');
  const message = res.choices[0]!.message;
  assert.equal(message.role, 'assistant');
  assert.equal(res.usage!.completion_tokens <= 6, true);
  assert.equal(res.usage!.total_tokens, res.usage!.prompt_tokens + res.usage!.completion_tokens);

  const stream = await client.chat.completions.create({
    model: 'ar',
    messages: [{ role: 'system', content: 'w9' }, { role: 'user', content: 'w5 w6' }],
    max_tokens: 6,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let role: string | undefined;
  let usage: OpenAI.CompletionUsage | undefined;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    assert.equal(chunk.object, 'chat.completion.chunk');
    const delta = chunk.choices[0]?.delta;
    role ??= delta?.role;
    text += delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(chunks >= 3);
  assert.equal(role, 'assistant');
  assert.equal(text, message.content);
  assert.deepEqual(usage, res.usage);
});

test('openai: errors come back as APIError with the field named', async () => {
  await assert.rejects(
    client.completions.create({ model: 'dlm', prompt: 'w5', max_tokens: 'many' as unknown as number }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && /max_tokens/.test(e.message),
  );
  await assert.rejects(client.completions.create({ model: 'nope', prompt: 'w5' }), (e: unknown) => e instanceof OpenAI.NotFoundError && /nope/.test(e.message));
  await assert.rejects(
    client.completions.create({ model: 'dlm', prompt: 'w5', strategy: 'threshold', tau: 7 } as OpenAI.CompletionCreateParamsNonStreaming),
    (e: unknown) => e instanceof OpenAI.BadRequestError && /tau/.test(e.message),
  );
  await assert.rejects(client.completions.create({ model: 'dlm', prompt: 'w5', n: 2 }), (e: unknown) => e instanceof OpenAI.BadRequestError && /n = 1/.test(e.message));
});

test('canvas stream: frames announce the canvas, cover every position, and end with committed_at', async () => {
  const res = await fetch(`${server.url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'dlm', prompt: 'w5 w6', stream: true, paradec_canvas: true, gen_length: 12, block_length: 4, steps: 6, strategy: 'threshold', tau: 0.3 }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const frames: { step: number; length: number; committed: { position: number; token: number; text: string }[]; remasked: number[]; done?: boolean; committed_at?: number[] }[] = [];
  let last: unknown;
  for await (const data of sseData(res)) {
    last = data;
    if (data !== '[DONE]' && data.paradec_canvas) frames.push(data.paradec_canvas);
  }
  assert.equal(last, '[DONE]');
  assert.deepEqual(frames[0], { step: 0, length: 12, committed: [], remasked: [] });
  const end = frames.at(-1)!;
  assert.equal(end.done, true);
  const seen = new Map<number, number>();
  for (const f of frames.slice(1, -1)) {
    assert.equal(f.length, 12);
    for (const c of f.committed) {
      assert.ok(c.position >= 0 && c.position < 12);
      assert.equal(typeof c.text, 'string');
      seen.set(c.position, f.step);
    }
  }
  assert.equal(seen.size, 12);
  assert.deepEqual(end.committed_at, Array.from({ length: 12 }, (_, i) => seen.get(i)));
  assert.ok(end.step >= 3 && end.step <= 12, `steps ${end.step}`); // 3 blocks; threshold commits >= 1 per step
});

test('openai: chat on a diffusion model; canvas frames reach an OpenAI client as an extra chunk field', async () => {
  const plain = await client.chat.completions.create({ model: 'dlm', messages: [{ role: 'user', content: 'w5 w6' }], max_tokens: 6 });
  const stream = await client.chat.completions.create({
    model: 'dlm',
    messages: [{ role: 'user', content: 'w5 w6' }],
    max_tokens: 6,
    stream: true,
    paradec_canvas: true,
  } as OpenAI.ChatCompletionCreateParamsStreaming);
  let text = '';
  let frames = 0;
  let finish: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if ((chunk as unknown as { paradec_canvas?: unknown }).paradec_canvas) frames += 1;
  }
  assert.equal(text, plain.choices[0]!.message.content);
  assert.equal(finish, plain.choices[0]!.finish_reason);
  assert.equal(frames, 1 + 6 + 1); // start, one per forward pass (confidence, k = 1), end
});

test('AI SDK (@ai-sdk/openai-compatible): generateText and streamText', async () => {
  const paradec = createOpenAICompatible({ name: 'paradec', baseURL: `${server.url}/v1`, includeUsage: true });
  const generated = await generateText({ model: paradec.chatModel('ar'), prompt: 'w5 w6', maxOutputTokens: 5 });
  assert.equal(typeof generated.text, 'string');
  assert.ok(generated.text.length > 0);
  assert.equal(generated.usage.outputTokens! <= 5, true);
  assert.ok(generated.usage.inputTokens! > 0);

  const streamed = streamText({ model: paradec.chatModel('ar'), prompt: 'w5 w6', maxOutputTokens: 5 });
  let text = '';
  for await (const delta of streamed.textStream) text += delta;
  assert.equal(text, generated.text);
  assert.deepEqual((await streamed.usage).outputTokens, generated.usage.outputTokens);

  // a diffusion model through the completions API, with a strategy passed as a provider option
  const completion = await generateText({
    model: paradec.completionModel('dlm'),
    prompt: 'w5 w6',
    maxOutputTokens: 6,
    providerOptions: { paradec: { strategy: 'confidence', strategy_options: { k: 3 } } },
  });
  assert.equal(typeof completion.text, 'string');
  const body = completion.response.body as { timings: { forward_passes: number; strategy: string } };
  assert.equal(body.timings.strategy, 'confidence');
  assert.equal(body.timings.forward_passes, 2);
});
