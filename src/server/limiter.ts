/**
 * A bounded number of concurrent generations and a bounded queue in front of them.
 *
 * `acquire` resolves with a release function when a slot is free; when every slot is busy the
 * caller waits in a FIFO queue of at most `maxQueue` entries, and past that `acquire` throws a
 * 503 with `Retry-After` at once. A waiter whose signal aborts (client gone, time limit) leaves
 * the queue, so the queue only ever holds live requests and memory stays bounded.
 */
import { HttpError } from './http-error.js';

interface Waiter {
  grant: (release: () => void) => void;
  fail: (e: unknown) => void;
}

export class Limiter {
  private active = 0;
  private readonly queue: Waiter[] = [];
  private closed = false;

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
    /** seconds a rejected client is told to wait */
    readonly retryAfterSeconds = 1,
  ) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError(`maxConcurrent must be an integer >= 1, got ${maxConcurrent}`);
    if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError(`maxQueue must be an integer >= 0, got ${maxQueue}`);
  }

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.queue.length;
  }

  private overloaded(message: string): HttpError {
    return new HttpError(503, message, { code: 'overloaded', headers: { 'Retry-After': String(this.retryAfterSeconds) } });
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.closed) throw this.overloaded('the server is shutting down');
    signal?.throwIfAborted();
    if (this.active < this.maxConcurrent) return this.grantSlot();
    if (this.queue.length >= this.maxQueue) {
      throw this.overloaded(`the server is busy (${this.active} generations running, ${this.queue.length} queued); retry later`);
    }
    return new Promise<() => void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
        fail: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private grantSlot(): () => void {
    this.active += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
      const next = this.queue.shift();
      if (next) next.grant(this.grantSlot());
    };
  }

  /** Refuse new work and fail everything still queued (running generations keep their slots). */
  close(): void {
    this.closed = true;
    for (const w of this.queue.splice(0)) w.fail(this.overloaded('the server is shutting down'));
  }
}
