/**
 * The server's extra models (draft LMs, drafters, safe models, layer-skipped targets): a bounded
 * cache, so that requests cannot make the server hold models without end.
 *
 * A library process keeps each extra model for its target's lifetime (extra-model-loader.ts). A
 * server cannot: every request picks its strategy and its draft, and before this each distinct
 * combination stayed loaded for good (eight requests added 216 MB and 44 threads). Here at most
 * `max` extra models exist at once; one in use by a generation stays; one nobody uses is freed
 * after `idleMs`, or at once when a new one needs its place (least recently used first). When
 * every place is taken by a model in use, the request gets 503 + Retry-After, like a full queue.
 */
import type { Loaded } from '../decode/autoregressive/extra-models.js';
import type { ExtraModelCache } from '../extra-model-loader.js';
import { HttpError } from './http-error.js';

interface Entry {
  loading: Promise<Loaded<unknown>>;
  /** generations holding it now */
  users: number;
  lastUsed: number;
  idleTimer: NodeJS.Timeout | undefined;
}

export interface ExtraModelPoolOptions {
  /** extra models loaded at once (default 4) */
  max?: number;
  /** an unused extra model is freed after this long (default 60 s) */
  idleMs?: number;
}

export class ExtraModelPool implements ExtraModelCache {
  readonly max: number;
  readonly idleMs: number;
  private readonly entries = new Map<string, Entry>();
  private readonly targetIds = new WeakMap<object, number>();
  private nextTargetId = 0;
  private closed = false;

  constructor(options: ExtraModelPoolOptions = {}) {
    this.max = options.max ?? 4;
    this.idleMs = options.idleMs ?? 60_000;
  }

  /** extra models loaded (or loading) now */
  get size(): number {
    return this.entries.size;
  }

  /** extra models some generation is using now */
  get inUse(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.users > 0) n++;
    return n;
  }

  async get<M>(target: object, key: string, load: () => Promise<Loaded<M>>): Promise<Loaded<M>> {
    if (this.closed) throw new HttpError(503, 'the server is shutting down', { code: 'shutting_down', headers: { 'Retry-After': '5' } });
    const id = `${this.targetId(target)}\u0000${key}`;
    let entry = this.entries.get(id);
    if (!entry) {
      if (this.entries.size >= this.max && !(await this.evictOne())) {
        throw new HttpError(503, `all ${this.max} extra-model places (draft models, drafters) are in use by other requests; retry shortly`, {
          code: 'overloaded',
          headers: { 'Retry-After': '1' },
        });
      }
      entry = { loading: load(), users: 0, lastUsed: Date.now(), idleTimer: undefined };
      this.entries.set(id, entry);
      const failed = entry;
      // a failed load leaves no entry: it is tried again next time
      entry.loading.catch(() => {
        if (this.entries.get(id) === failed) this.entries.delete(id);
      });
    }
    entry.users += 1;
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    let loaded: Loaded<unknown>;
    try {
      loaded = await entry.loading;
    } catch (e) {
      entry.users -= 1;
      throw e;
    }
    const held = entry;
    let released = false;
    return {
      model: loaded.model as M,
      dir: loaded.dir,
      dispose: async () => {
        if (released) return;
        released = true;
        this.release(id, held);
      },
    };
  }

  /** Free every extra model (the server is stopping). */
  async dispose(): Promise<void> {
    this.closed = true;
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => this.free(e)));
  }

  private targetId(target: object): number {
    let id = this.targetIds.get(target);
    if (id === undefined) this.targetIds.set(target, (id = this.nextTargetId++));
    return id;
  }

  private release(id: string, entry: Entry): void {
    entry.users -= 1;
    entry.lastUsed = Date.now();
    if (entry.users > 0 || this.entries.get(id) !== entry) return;
    entry.idleTimer = setTimeout(() => {
      if (this.entries.get(id) !== entry || entry.users > 0) return;
      this.entries.delete(id);
      void this.free(entry);
    }, this.idleMs);
    entry.idleTimer.unref(); // an idle model never keeps the process alive
  }

  /** Free the least recently used model nobody is using; false when every one is in use. */
  private async evictOne(): Promise<boolean> {
    let oldest: [string, Entry] | undefined;
    for (const pair of this.entries) if (pair[1].users === 0 && (!oldest || pair[1].lastUsed < oldest[1].lastUsed)) oldest = pair;
    if (!oldest) return false;
    this.entries.delete(oldest[0]);
    await this.free(oldest[1]);
    return true;
  }

  private async free(entry: Entry): Promise<void> {
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    try {
      await (await entry.loading).dispose();
    } catch {
      // it never loaded, or is already gone: nothing to free
    }
  }
}
