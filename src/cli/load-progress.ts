/**
 * Progress of loading a big model, on stderr: a bar (progress.ts) for each pass over the weights
 * (the NaN/Inf scan, the float32 conversion or int4 quantization) in MB of the checkpoint, and a
 * line while ONNX Runtime loads them (it reports nothing itself). Models up to
 * BIG_MODEL_BYTES print nothing new: they load in a second or two.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { resolveModelDir } from '../model/locate.js';
import type { CompileProgress } from '../runtime/compile.js';
import { progressBar, type Progress } from './progress.js';

/** Weight files above this size get a progress report. */
export const BIG_MODEL_BYTES = 200e6;

const LABELS = { scan: 'checking weights for NaN/Inf (MB)', weights: 'converting weights (MB)' } as const;

/** Bytes of a model directory's safetensors files (0 when it cannot be read: the load will say why). */
export function weightFileBytes(dir: string): number {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.safetensors')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  } catch {
    return 0;
  }
}

/**
 * A progress reporter for loading these models (directories or built-in names), or undefined
 * when none is big. One reporter serves loads made one after another (a server's models).
 */
export function loadProgress(models: readonly (string | undefined)[], write: (line: string) => void = (l) => void process.stderr.write(l)): CompileProgress | undefined {
  const big = models.some((m) => {
    try {
      return weightFileBytes(resolveModelDir(m)) > BIG_MODEL_BYTES;
    } catch {
      return false; // an unknown model: the load names it
    }
  });
  if (!big) return undefined;
  let bar: Progress | undefined;
  let phase: string | undefined;
  let sessionStarted = 0;
  return (next, done, total) => {
    const mb = (bytes: number): number => Math.round(bytes / 1e6);
    if (next !== phase) {
      bar?.stop();
      bar = undefined;
      phase = next;
    }
    if (next === 'session') {
      if (done === 0) {
        sessionStarted = performance.now();
        write(`loading ${mb(total)} MB of weights into ONNX Runtime…\n`);
      } else {
        write(`ONNX Runtime loaded the weights in ${((performance.now() - sessionStarted) / 1000).toFixed(1)} s\n`);
        phase = undefined;
      }
      return;
    }
    bar ??= progressBar(LABELS[next], mb(total));
    bar.update(mb(done));
    if (done >= total) {
      bar.stop();
      bar = undefined;
      phase = undefined;
    }
  };
}
