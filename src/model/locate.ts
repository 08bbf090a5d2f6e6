/**
 * Where paradec's files are: the package root, its built-in models, and what a model argument
 * (a directory, or the name of a built-in model) points at. A leaf module (it imports nothing of
 * paradec's but its errors), so every layer — API, strategies' callers, CLI, server, bench — asks
 * here instead of computing paths of its own.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';

/** The package root: the directory holding paradec's package.json (this file is `<root>/src/model/`). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The directory of the built-in models (`models/` at the package root). */
export const BUILTIN_MODELS_DIR = join(PACKAGE_ROOT, 'models');

/** The model used when none is named: the built-in diffusion model. */
export const DEFAULT_MODEL = 'tiny-dlm';

/** paradec's version, from its package.json. */
export const VERSION: string = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The directory of a built-in model, or null when no such model ships. */
export function builtinModelDir(name: string): string | null {
  const dir = join(BUILTIN_MODELS_DIR, name);
  return existsSync(join(dir, 'config.json')) ? dir : null;
}

/** Resolve a model argument: a directory, or the name of a built-in model. */
export function resolveModelDir(model?: string): string {
  const name = model ?? DEFAULT_MODEL;
  if (existsSync(join(name, 'config.json')) || existsSync(name)) return resolve(name);
  const builtin = join(BUILTIN_MODELS_DIR, name);
  if (existsSync(builtin)) return builtin;
  throw new InputError(`model '${name}' not found (not a directory, nor a built-in model in ${BUILTIN_MODELS_DIR})`);
}
