/**
 * `paradec serve`'s HTTP server: routes, API key, per-request cancellation and time limit,
 * graceful shutdown.
 *
 * Plain `node:http` rather than a framework: there are eight routes, and what matters here is
 * precise control of the request and response lifecycles (body limits, disconnect detection,
 * SSE backpressure, draining on shutdown), which node:http exposes directly; a framework would
 * add a dependency and a layer between us and those events.
 *
 *   GET  /                      the live denoising page (web/)
 *   GET  /health                {"status": "ok" | "draining", …}
 *   GET  /metrics               Prometheus text
 *   GET  /v1/models[/ID]        OpenAI model list, with a `paradec` extension per model
 *   GET  /v1/strategies         paradec extension: strategies and their typed parameters
 *   POST /v1/completions        OpenAI completions (+ strategy, timings, canvas stream)
 *   POST /v1/chat/completions   OpenAI chat completions (same extensions)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { finished } from 'node:stream/promises';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { LoadOptions } from '../api.js';
import { describeStrategies } from '../decode/describe.js';
import { readJsonBody } from './body.js';
import { serveGeneration } from './generation.js';
import { Cancelled, HttpError, toHttpError } from './http-error.js';
import { Limiter } from './limiter.js';
import { ServerMetrics } from './metrics.js';
import { ExtraModelPool } from './extra-model-pool.js';
import { ModelNames } from './model-names.js';
import { ModelPool, type BatchingOptions, type ModelSpec } from './models.js';
import { parseChatRequest, parseCompletionRequest, type RequestLimits } from './schema.js';
import { loadStaticFiles, WEB_DIR, type StaticFile } from './static.js';

export interface ServerOptions {
  models: ModelSpec[];
  loadOptions?: LoadOptions;
  /** default 127.0.0.1 */
  host?: string;
  /** default 8080; 0 picks a free port */
  port?: number;
  /** when set, /v1/* and /metrics need `Authorization: Bearer <apiKey>` */
  apiKey?: string | null;
  /**
   * generations running at once (default 8): the largest batch. The forwards of concurrent
   * generations on one model run as one batched forward (continuous batching)
   */
  maxConcurrent?: number;
  /** continuous batching (default on); `maxWaitMs`: longest wait for the other generations' forwards */
  batching?: BatchingOptions;
  /** generations waiting for a slot before 503 (default 8) */
  maxQueue?: number;
  /** default 1 MiB */
  maxBodyBytes?: number;
  /** per request, queueing included (default 120 s) */
  requestTimeoutMs?: number;
  /** largest max_tokens / gen_length / steps / block_length (default 1024) */
  maxTokens?: number;
  /** open connections at most (default 128): bounds the memory held by bodies being read */
  maxConnections?: number;
  /**
   * open connections from one client address at most (default: half of maxConnections): one
   * client cannot take them all. Behind a reverse proxy every connection has the proxy's address:
   * raise it to maxConnections there
   */
  maxConnectionsPerClient?: number;
  /** a request's headers must arrive within this (default 30 s; enforced within a second) */
  headersTimeoutMs?: number;
  /** its headers and body within this (default 60 s; enforced within a second) */
  bodyTimeoutMs?: number;
  /** directories whose model subdirectories strategy parameters may name (draft models, drafters) */
  modelsDirs?: string[];
  /** strategies' extra models (draft LMs, drafters) loaded at once (default 4); idle ones are freed */
  maxExtraModels?: number;
  /** an extra model unused for this long is freed (default 60 s) */
  extraModelIdleMs?: number;
  /** ORT threads of each extra model (default 1) */
  extraModelThreads?: number;
  /** on shutdown, how long running generations may take to finish before they are cancelled (default 10 s) */
  shutdownGraceMs?: number;
  webDir?: string;
  /** one line per notable event (start, shutdown, internal errors) */
  log?: (line: string) => void;
}

export interface ParadecServer {
  readonly url: string;
  readonly port: number;
  readonly metrics: ServerMetrics;
  readonly limiter: Limiter;
  /** requests being handled now (queued or running generations, bodies being read, …) */
  readonly inFlight: number;
  /** the strategies' extra models (draft LMs, drafters) loaded now, and those in use */
  readonly extraModels: { readonly size: number; readonly inUse: number; readonly max: number };
  /** Stop accepting, let running generations finish (up to the grace period), cancel the rest, close. */
  close(graceMs?: number): Promise<void>;
}

type Route = 'page' | 'health' | 'metrics' | 'models' | 'strategies' | 'completions' | 'chat' | 'not_found' | 'bad_url';

const ANY = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

function route(path: string): { route: Route; allowed: string[]; arg?: string } {
  if (path === '/v1/completions') return { route: 'completions', allowed: ['POST'] };
  if (path === '/v1/chat/completions') return { route: 'chat', allowed: ['POST'] };
  if (path === '/v1/models') return { route: 'models', allowed: ['GET', 'HEAD'] };
  if (path.startsWith('/v1/models/')) return { route: 'models', allowed: ['GET', 'HEAD'], arg: decodeURIComponent(path.slice('/v1/models/'.length)) };
  if (path === '/v1/strategies') return { route: 'strategies', allowed: ['GET', 'HEAD'] };
  if (path === '/health') return { route: 'health', allowed: ['GET', 'HEAD'] };
  if (path === '/metrics') return { route: 'metrics', allowed: ['GET', 'HEAD'] };
  if (path.startsWith('/v1/')) return { route: 'not_found', allowed: ANY };
  return { route: 'page', allowed: ['GET', 'HEAD'] };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, err: HttpError): void {
  if (res.destroyed || res.writableEnded) return;
  if (!res.headersSent) {
    sendJson(res, err.status, err.body(), err.details.headers);
    return;
  }
  // Inside a stream: OpenAI clients raise an `error` data frame as an API error.
  if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) {
    res.end(`data: ${JSON.stringify(err.body())}\n\n`);
  } else {
    res.destroy();
  }
}

function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

export async function startServer(options: ServerOptions): Promise<ParadecServer> {
  const log = options.log ?? (() => undefined);
  const limits: RequestLimits = { maxTokens: options.maxTokens ?? 1024 };
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const timeoutMs = options.requestTimeoutMs ?? 120_000;
  const graceDefault = options.shutdownGraceMs ?? 10_000;
  const apiKeyDigest = options.apiKey ? keyDigest(options.apiKey) : null;
  const pool = new ModelPool(options.models, options.loadOptions, options.batching);
  await pool.load();
  const names = new ModelNames(pool.directories(), options.modelsDirs ?? []);
  const extraModels = new ExtraModelPool({ max: options.maxExtraModels, idleMs: options.extraModelIdleMs });
  const extraModelThreads = options.extraModelThreads ?? 1;
  const limiter = new Limiter(options.maxConcurrent ?? 8, options.maxQueue ?? 8);
  const metrics = new ServerMetrics({ queued: () => limiter.queued, running: () => limiter.running, batching: () => pool.batchingStats() });
  const files: Map<string, StaticFile> = loadStaticFiles(options.webDir ?? WEB_DIR);
  const inFlight = new Set<Promise<void>>();
  const controllers = new Set<AbortController>();
  let draining = false;

  const authorized = (req: IncomingMessage): boolean => {
    if (!apiKeyDigest) return true;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    return m !== null && timingSafeEqual(keyDigest(m[1]!.trim()), apiKeyDigest);
  };

  async function handle(req: IncomingMessage, res: ServerResponse, r: ReturnType<typeof route>, controller: AbortController): Promise<void> {
    const method = req.method ?? 'GET';
    if (!r.allowed.includes(method)) {
      throw new HttpError(405, `${method} is not allowed here (allowed: ${r.allowed.join(', ')})`, { headers: { Allow: r.allowed.join(', ') } });
    }
    if (draining && r.route !== 'health') {
      metrics.rejected.inc({ reason: 'shutting_down' });
      throw new HttpError(503, 'the server is shutting down', { code: 'shutting_down', headers: { 'Retry-After': '5' } });
    }
    const needsKey = r.route === 'completions' || r.route === 'chat' || r.route === 'models' || r.route === 'strategies' || r.route === 'metrics';
    if (needsKey && !authorized(req)) {
      throw new HttpError(401, 'missing or wrong API key (send Authorization: Bearer <key>)', { code: 'invalid_api_key', headers: { 'WWW-Authenticate': 'Bearer' } });
    }
    switch (r.route) {
      case 'page': {
        const path = new URL(req.url ?? '/', 'http://localhost').pathname;
        const file = files.get(path);
        if (!file) throw new HttpError(404, `no such path: ${path}`, { code: 'not_found' });
        res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
        res.end(file.body);
        return;
      }
      case 'health':
        sendJson(res, draining ? 503 : 200, {
          status: draining ? 'draining' : 'ok',
          models: pool.names,
          running: limiter.running,
          queued: limiter.queued,
          extra_models: { loaded: extraModels.size, in_use: extraModels.inUse, max: extraModels.max },
        });
        return;
      case 'metrics': {
        const text = metrics.render();
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      case 'models': {
        const info = pool.info();
        if (r.arg !== undefined) {
          const one = info.find((m) => m.id === r.arg);
          if (!one) throw new HttpError(404, `model '${r.arg}' not found (models: ${pool.names.join(', ')})`, { param: 'model', code: 'model_not_found' });
          sendJson(res, 200, one);
        } else {
          sendJson(res, 200, { object: 'list', data: info });
        }
        return;
      }
      case 'strategies':
        sendJson(res, 200, { object: 'list', data: describeStrategies() });
        return;
      case 'completions':
      case 'chat': {
        const body = await readJsonBody(req, maxBody);
        const request = r.route === 'chat' ? parseChatRequest(body, limits) : parseCompletionRequest(body, limits);
        await serveGeneration(res, request, { pool, limiter, metrics, names, extraModels, extraModelThreads }, controller.signal);
        return;
      }
      default:
        throw new HttpError(404, `no such endpoint: ${req.method} ${new URL(req.url ?? '/', 'http://localhost').pathname}`, { code: 'not_found' });
    }
  }

  // Node checks the header and request time limits every `connectionsCheckingInterval` (30 s by
  // default, so a 30 s limit fired anywhere between 30 and 60 s): every second here.
  const server: Server = createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
    const started = performance.now();
    let r: ReturnType<typeof route>;
    try {
      r = route(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      r = { route: 'bad_url', allowed: ANY };
    }
    const endpoint = r.route;
    if (draining) res.setHeader('Connection', 'close');
    const controller = new AbortController();
    controllers.add(controller);
    // 'close' before the answer is complete: the client went away (or the socket broke)
    const onClose = (): void => {
      if (!res.writableFinished) controller.abort(new Cancelled('disconnect'));
    };
    res.on('close', onClose);
    const timer = setTimeout(() => controller.abort(new Cancelled('timeout')), timeoutMs);
    res.once('close', () => {
      metrics.requests.inc({ endpoint, code: res.writableFinished ? String(res.statusCode) : '499' });
      metrics.requestSeconds.observe((performance.now() - started) / 1000, { endpoint });
    });
    const work = (async () => {
      try {
        if (r.route === 'bad_url') throw new HttpError(400, 'malformed request URL');
        await handle(req, res, r, controller);
      } catch (e) {
        const err = toHttpError(e);
        if (err.status >= 500 && !(e instanceof Cancelled) && !(e instanceof HttpError)) log(`internal error on ${req.method} ${req.url}: ${err.message}`);
        sendError(res, err);
      } finally {
        // count the request as in flight until its last bytes are handed to the socket, so a
        // shutdown that closes every connection afterwards does not cut an answer short
        if (res.writableEnded && !res.writableFinished && !res.destroyed) await finished(res).catch(() => undefined);
        clearTimeout(timer);
        res.off('close', onClose);
        controllers.delete(controller);
      }
    })();
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  });
  server.maxConnections = options.maxConnections ?? 128;
  server.requestTimeout = options.bodyTimeoutMs ?? 60_000; // the whole request (headers + body)
  server.headersTimeout = Math.min(options.headersTimeoutMs ?? 30_000, server.requestTimeout);
  limitConnectionsPerClient(server, options.maxConnectionsPerClient ?? Math.max(1, Math.floor(server.maxConnections / 2)));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${hostForUrl}:${address.port}`;

  let closing: Promise<void> | null = null;
  const settle = async (ms: number): Promise<boolean> => {
    if (inFlight.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const done = Promise.allSettled([...inFlight]).then(() => true);
    const ok = await Promise.race([done, timeout]);
    clearTimeout(timer);
    return ok;
  };
  const close = (graceMs = graceDefault): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      log('shutting down: no new requests; waiting for running generations');
      limiter.close(); // queued requests get 503 now
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (!(await settle(graceMs))) {
        log(`cancelling ${limiter.running} generation(s) still running after ${graceMs} ms`);
        for (const c of controllers) c.abort(new Cancelled('shutdown'));
        await settle(5_000);
      }
      server.closeAllConnections();
      await stopped;
      await extraModels.dispose();
      await pool.dispose();
      log('stopped');
    })();
    return closing;
  };

  return {
    url,
    port: address.port,
    metrics,
    limiter,
    get inFlight() {
      return inFlight.size;
    },
    extraModels,
    close,
  };
}

/**
 * At most `perClient` open connections from one address: past it, a new connection gets a 429
 * and is closed at once. Without this, one client holding every connection (128 sockets sending
 * their headers a byte at a time) locked everyone else out until the header limit fired.
 */
function limitConnectionsPerClient(server: Server, perClient: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const address = socket.remoteAddress ?? '';
    const n = (open.get(address) ?? 0) + 1;
    if (n > perClient) {
      socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n');
      socket.destroySoon();
      return;
    }
    open.set(address, n);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
