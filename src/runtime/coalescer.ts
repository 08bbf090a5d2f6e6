/**
 * Continuous batching's scheduler: forward calls of concurrent generations on one model are
 * gathered and run as one batched forward (vLLM / SGLang / llama.cpp's server do the same per
 * step). Each generation keeps its own loop — its own step, block, draft length, strategy —
 * and simply awaits its forward; whoever calls while a batched forward runs is in the next one.
 * A generation joins at its next forward and leaves when it stops calling: nobody waits for a
 * batch to drain.
 *
 * When to run: a batch goes as soon as every generation taking part (`join`) has a call waiting,
 * so generations that step in lockstep share every forward; otherwise it waits at most `maxWaitMs`
 * after its first call for the others (one busy writing to a slow client, one running its draft
 * model). A lone generation never waits: its calls run at once, as without batching.
 */
export interface CoalescerOptions {
  /** longest wait for the other generations' calls once one call waits (default 2 ms; 0: never wait, run what is there) */
  maxWaitMs?: number;
  /** rows per batched forward at most (default: no limit) */
  maxRows?: number;
  /** told the number of generations taking part whenever it changes */
  onParticipants?: (participants: number) => void;
}

interface Pending<C, R> {
  call: C;
  rows: number;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * Gathers calls of type `C` and runs them with `run(calls)`, which returns one result per call
 * in order (or throws: every call of that batch is rejected with the error).
 */
export class Coalescer<C, R> {
  private pending: Pending<C, R>[] = [];
  private inFlight = false;
  private timer: NodeJS.Timeout | undefined;
  private participants = 0;
  private readonly maxWaitMs: number;
  private readonly maxRows: number;
  /** batched forwards run, and calls they carried (for tests and metrics) */
  readonly stats = { batches: 0, calls: 0, rows: 0, largestBatch: 0 };

  constructor(private readonly run: (calls: C[]) => Promise<R[]>, private readonly options: CoalescerOptions = {}) {
    this.maxWaitMs = options.maxWaitMs ?? 2;
    this.maxRows = options.maxRows ?? Number.POSITIVE_INFINITY;
  }

  /** A generation starts taking part; call the returned function when it ends (however it ends). */
  join(): () => void {
    this.participants += 1;
    this.options.onParticipants?.(this.participants);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.participants -= 1;
      this.options.onParticipants?.(this.participants);
      this.schedule(); // the others may all be waiting for this one
    };
  }

  /** generations taking part now */
  get size(): number {
    return this.participants;
  }

  /** Queue one call (`rows`: its batch rows); resolves with its own result. */
  submit(call: C, rows = 1): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ call, rows, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.inFlight || this.pending.length === 0) return;
    const rows = this.pending.reduce((n, p) => n + p.rows, 0);
    if (this.pending.length >= Math.max(1, this.participants) || rows >= this.maxRows || this.maxWaitMs <= 0) {
      this.dispatch();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (!this.inFlight) this.dispatch();
    }, this.maxWaitMs);
  }

  private dispatch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    // take calls in arrival order up to the row limit (at least one, however large)
    let rows = 0;
    let take = 0;
    while (take < this.pending.length && (take === 0 || rows + this.pending[take]!.rows <= this.maxRows)) rows += this.pending[take++]!.rows;
    const batch = this.pending.splice(0, take);
    this.inFlight = true;
    this.stats.batches += 1;
    this.stats.calls += batch.length;
    this.stats.rows += rows;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, rows);
    void (async () => {
      try {
        const results = await this.run(batch.map((p) => p.call));
        batch.forEach((p, i) => p.resolve(results[i]!));
      } catch (e) {
        for (const p of batch) p.reject(e);
      } finally {
        this.inFlight = false;
        // the generations just answered call again within a few microtasks; let them, then go
        setImmediate(() => this.schedule());
      }
    })();
  }
}
