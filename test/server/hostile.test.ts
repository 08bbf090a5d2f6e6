/**
 * What a hostile client cannot do to `paradec serve` (issue 18's holes): make it read files of
 * its choosing through strategy parameters, size its thread pools, pile up extra models, or hold
 * its connections with slow headers and bodies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AUTOREGRESSIVE_STRATEGIES } from '../../src/decode/registry.js';
import type { ParadecServer } from '../../src/server/app.js';
import { postJson, serve, waitFor, writeFixture, type Fixture } from './helpers.js';

let fixture: Fixture;
let server: ParadecServer;

before(async () => {
  fixture = writeFixture('paradec-hostile-');
  server = await serve(fixture, { maxExtraModels: 1, extraModelIdleMs: 300, headersTimeoutMs: 1500, bodyTimeoutMs: 2500, maxConnectionsPerClient: 4, maxConnections: 12 });
});

after(async () => {
  await server?.close(0);
  fixture?.cleanup();
});

/** Every autoregressive strategy parameter that names a model or a datastore. */
const NAMING = AUTOREGRESSIVE_STRATEGIES.flatMap((d) =>
  Object.entries(d.params)
    .filter(([, spec]) => spec.names === 'model' || spec.names === 'datastore')
    .map(([key]) => [d.name, key] as const),
);

test('parameters that name a model or datastore accept only what the server offers, and errors show no paths', async () => {
  assert.ok(NAMING.length >= 5, `found ${NAMING.map((x) => x.join('.')).join(', ')}`);
  // names that exist in the server's working directory, names that do not, and paths
  const values = ['package.json', 'src', 'node_modules', 'no-such-file.json', 'tiny-ar-draftx', '/etc/passwd', '../llama', fixture.llama];
  for (const [strategy, key] of NAMING) {
    for (const value of values) {
      const r = await postJson(`${server.url}/v1/completions`, { model: 'ar', prompt: 'w5', max_tokens: 2, strategy, strategy_options: { [key]: value } });
      const label = `${strategy}.${key}=${value}`;
      assert.equal(r.status, 400, `${label}: ${JSON.stringify(r.json)}`);
      const message: string = r.json.error.message;
      assert.match(message, new RegExp(`^strategy_options\\.${key}: `), label);
      assert.ok(!message.includes(process.cwd()) && !message.includes(fixture.dir), `${label} shows a path: ${message}`);
    }
  }
});

test('a served model may be named as a draft model', async () => {
  const r = await postJson(`${server.url}/v1/completions`, { model: 'ar', prompt: 'w5', max_tokens: 4, strategy: 'speculative', strategy_options: { draft: 'ar' } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.ok(r.json.timings.drafted > 0, 'the draft model drafted');
});

test('draft threads are the server\'s; extra models are bounded and freed when idle', async () => {
  const threads = await postJson(`${server.url}/v1/completions`, { model: 'ar', prompt: 'w5', max_tokens: 2, strategy: 'speculative', strategy_options: { draft: 'ar', threads: 7 } });
  assert.equal(threads.status, 400);
  assert.match(threads.json.error.message, /^strategy_options\.threads: is decided by the server/);
  // two different extra models (in-process and worker-backed) one after the other: with room for
  // one, the second replaces the first instead of adding to it
  for (const inProcess of [true, false, true]) {
    const r = await postJson(`${server.url}/v1/completions`, { model: 'ar', prompt: 'w5', max_tokens: 3, strategy: 'speculative', strategy_options: { draft: 'ar', in_process: inProcess } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.ok(server.extraModels.size <= 1, `${server.extraModels.size} extra models loaded`);
  }
  assert.equal(server.extraModels.inUse, 0);
  await waitFor(() => server.extraModels.size === 0, 5000, 'the idle extra model to be freed');
  const health = await (await fetch(`${server.url}/health`)).json();
  assert.deepEqual(health.extra_models, { loaded: 0, in_use: 0, max: 1 });
});

/** A socket from `localAddress` that sends `head` and then one byte of `trickle` every `everyMs`. */
function dribble(head: string, trickle: string, everyMs: number, localAddress = '127.0.0.1'): { socket: Socket; closed: Promise<{ ms: number; reply: string }> } {
  const url = new URL(server.url);
  const started = performance.now();
  const socket = connect({ host: url.hostname, port: Number(url.port), localAddress });
  let reply = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (reply += d));
  socket.on('error', () => undefined);
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= trickle.length) return;
    socket.write(trickle[i++]!);
  }, everyMs);
  socket.on('connect', () => socket.write(head));
  const closed = new Promise<{ ms: number; reply: string }>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ ms: performance.now() - started, reply });
    }),
  );
  return { socket, closed };
}

test('slow headers and slow bodies are cut within a second of their limits', async () => {
  const headers = dribble('POST /v1/completions HTTP/1.1\r\nHost: x\r\n', 'X-Slow: ' + 'a'.repeat(200), 100);
  const body = dribble('POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n', '{"prompt": "' + 'a'.repeat(300), 100);
  const [h, b] = await Promise.all([headers.closed, body.closed]);
  // limits 1.5 s (headers) and 2.5 s (headers + body); Node checks them every second here
  assert.ok(h.ms >= 1400 && h.ms < 1500 + 1600, `slow headers closed after ${h.ms.toFixed(0)} ms`);
  assert.ok(b.ms >= 2400 && b.ms < 2500 + 1600, `slow body closed after ${b.ms.toFixed(0)} ms`);
  assert.match(h.reply, /^HTTP\/1\.1 408/);
  assert.match(b.reply, /^HTTP\/1\.1 408/);
  const health = await fetch(`${server.url}/health`);
  assert.equal(health.status, 200);
});

test('one client address cannot take every connection: others keep being served', async () => {
  // the attacker connects from 127.0.0.2 (Linux routes all of 127/8 to the loopback device)
  const attackers = Array.from({ length: 10 }, () => dribble('GET /health HTTP/1.1\r\n', 'X-Slow: ' + 'a'.repeat(200), 200, '127.0.0.2'));
  await sleep(300);
  const rejected = await Promise.race([Promise.all(attackers.slice(4).map((a) => a.closed)), sleep(1000).then(() => null)]);
  assert.ok(rejected, 'the connections past the per-client cap were closed at once');
  for (const r of rejected) assert.match(r.reply, /^HTTP\/1\.1 429/);
  assert.ok(attackers.slice(0, 4).every((a) => !a.socket.destroyed), 'the first four are still open');
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${server.url}/health`);
    assert.equal(res.status, 200);
  }
  for (const a of attackers) a.socket.destroy();
});
