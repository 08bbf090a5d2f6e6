/**
 * Training checkpoints: everything needed to continue a run exactly — weights, AdamW moments,
 * the step counter (which is also the data/masking RNG state, see data.ts) and the options.
 *
 *   DIR/state.safetensors   p.<name>, m.<name>, v.<name> (F32)
 *   DIR/state.json          { step, adamT, shape, options, ... }
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsHeader, readTensorF32, writeSafetensors, type TensorToWrite } from '../model/safetensors.js';
import type { ModelShape } from './model.js';

export interface TrainState {
  step: number;
  adamT: number;
  shape: ModelShape;
  objective: string;
  options: Record<string, unknown>;
  params: Map<string, Float32Array>;
  m: Map<string, Float32Array> | null;
  v: Map<string, Float32Array> | null;
  /** free-form: last eval, wall time so far, ... */
  extra: Record<string, unknown>;
}

export function stateExists(dir: string): boolean {
  return existsSync(join(dir, 'state.json')) && existsSync(join(dir, 'state.safetensors'));
}

export function saveState(dir: string, s: TrainState, shapes: [string, number[]][]): void {
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, shape] of shapes) {
    tensors[`p.${name}`] = { dtype: 'F32', shape, data: s.params.get(name)! };
    if (s.m && s.v) {
      tensors[`m.${name}`] = { dtype: 'F32', shape, data: s.m.get(name)! };
      tensors[`v.${name}`] = { dtype: 'F32', shape, data: s.v.get(name)! };
    }
  }
  // write-then-rename so that a crash mid-save never leaves a torn checkpoint
  writeSafetensors(join(dir, 'state.safetensors.tmp'), tensors);
  const json = { step: s.step, adamT: s.adamT, shape: s.shape, objective: s.objective, options: s.options, extra: s.extra };
  writeFileSync(join(dir, 'state.json.tmp'), JSON.stringify(json, null, 2));
  renameSync(join(dir, 'state.safetensors.tmp'), join(dir, 'state.safetensors'));
  renameSync(join(dir, 'state.json.tmp'), join(dir, 'state.json'));
}

export function loadState(dir: string): TrainState {
  const json = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as Omit<TrainState, 'params' | 'm' | 'v'>;
  const header = readSafetensorsHeader(join(dir, 'state.safetensors'));
  const params = new Map<string, Float32Array>();
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name, entry] of header.tensors) {
    const data = readTensorF32(entry);
    const key = name.slice(2);
    if (name.startsWith('p.')) params.set(key, data);
    else if (name.startsWith('m.')) m.set(key, data);
    else if (name.startsWith('v.')) v.set(key, data);
  }
  return { ...json, params, m: m.size ? m : null, v: v.size ? v : null };
}
