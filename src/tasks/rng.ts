/**
 * The seeded pseudo-random generator shared across paradec: task generation, training batches
 * and the strategies' random remasking all draw from it, so that every run is reproducible from
 * one integer seed and a resumed run can continue a stream exactly (see `state`/`fromState`).
 *
 * Algorithm: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state, passes
 * PractRand/BigCrush), seeded through splitmix32 so that nearby seeds (0, 1, 2...) give unrelated
 * streams. It works entirely in 32-bit integer arithmetic, so results are identical on every JS
 * engine. Not cryptographic.
 */
import { OptionError } from '../errors.js';

/** The full generator state: four unsigned 32-bit integers. */
export type RngState = readonly [number, number, number, number];

const TWO_32 = 4294967296;

/** splitmix32 step: used only to expand a seed into sfc32's four state words. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97) >>> 0;
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * Mix numbers and strings into one 32-bit seed (order-sensitive), so that independent streams
 * can be named instead of hand-offset: `new Rng(seedFrom(seed, 'sudoku'))`. FNV-1a over the
 * UTF-16 code units, with an avalanche at the end.
 */
export function seedFrom(...parts: ReadonlyArray<number | string>): number {
  let h = 0x811c9dc5;
  const eat = (byte: number): void => {
    h = Math.imul(h ^ (byte & 0xff), 0x01000193) >>> 0;
  };
  for (const part of parts) {
    if (typeof part === 'number') {
      if (!Number.isSafeInteger(part)) {
        throw new OptionError(`seedFrom: seed part ${part} is not a safe integer`);
      }
      eat(0x4e); // tag, so that 1 and '1' differ
      const lo = part >>> 0;
      const hi = Math.floor(part / TWO_32) >>> 0;
      for (const w of [lo, hi]) for (let s = 0; s < 32; s += 8) eat(w >>> s);
    } else {
      eat(0x53);
      for (let i = 0; i < part.length; i++) {
        const c = part.charCodeAt(i);
        eat(c);
        eat(c >>> 8);
      }
      eat(0); // terminator, so that ('ab','c') and ('a','bc') differ
    }
  }
  return splitmix32(h);
}

/** A seeded generator. Methods that draw advance the state; nothing else mutates it. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed`: any safe integer (negative and > 2^32 included; the high bits are mixed in). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new OptionError(`Rng: seed ${seed} is not a safe integer`);
    }
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_32) >>> 0;
    this.a = splitmix32(lo);
    this.b = splitmix32(this.a ^ hi);
    this.c = splitmix32(this.b);
    this.d = splitmix32(this.c ^ 0x5eed);
    // Warm up: the first outputs of sfc32 after seeding are still correlated with the seed.
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** Rebuild a generator from `state()`, e.g. when resuming a training run. */
  static fromState(state: RngState): Rng {
    if (state.length !== 4 || !state.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_32)) {
      throw new OptionError(`Rng.fromState: state ${JSON.stringify(state)} is not four uint32 words`);
    }
    const rng = new Rng(0);
    [rng.a, rng.b, rng.c, rng.d] = state;
    return rng;
  }

  /** A copy of the current state; `Rng.fromState(s)` continues exactly from here. */
  state(): RngState {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }

  /**
   * An independent child generator seeded from this stream (advances this one), so a caller can
   * hand sub-streams to parts whose number of draws varies without disturbing its own sequence.
   */
  fork(): Rng {
    return new Rng(this.uint32() * 0x200000 + (this.uint32() >>> 11));
  }

  /** Uniform integer in [0, 2^32). */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1) with 53 random bits (0 is possible, 1 is not). */
  float(): number {
    const hi = this.uint32() >>> 5; // 27 bits
    const lo = this.uint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [lo, hi], both ends included (like Python's randint). Unbiased. */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo > hi) {
      throw new OptionError(`Rng.int: bad range [${lo}, ${hi}]`);
    }
    const span = hi - lo + 1;
    if (span > TWO_32) {
      throw new OptionError(`Rng.int: range [${lo}, ${hi}] is wider than 2^32`);
    }
    if (span === TWO_32) return lo + this.uint32();
    // Rejection sampling: drop the top partial copy of [0, span) so every value is equally likely.
    const limit = TWO_32 - (TWO_32 % span);
    let x = this.uint32();
    while (x >= limit) x = this.uint32();
    return lo + (x % span);
  }

  /** A uniformly chosen element. */
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new OptionError('Rng.choice: empty array');
    return items[this.int(0, items.length - 1)] as T;
  }

  /** Fisher-Yates shuffle IN PLACE; returns the same array for chaining. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /**
   * `n` elements drawn without replacement (distinct positions), in random order. Costs O(n)
   * whatever the array's length (a sparse partial Fisher-Yates), because the task generator
   * samples a few names out of 17,664 many times.
   */
  sample<T>(items: readonly T[], n: number): T[] {
    if (!Number.isInteger(n) || n < 0 || n > items.length) {
      throw new OptionError(`Rng.sample: cannot draw ${n} of ${items.length} items`);
    }
    const moved = new Map<number, number>();
    const out: T[] = [];
    const last = items.length - 1;
    for (let i = 0; i < n; i++) {
      const j = this.int(i, last);
      const atJ = moved.get(j) ?? j;
      moved.set(j, moved.get(i) ?? i);
      out.push(items[atJ] as T);
    }
    return out;
  }
}
