/**
 * Flag parsing with paradec's conventions: node:util parseArgs, strict (an unknown flag is an
 * error that names it), positionals allowed. Its own module so that commands loaded lazily by
 * main.ts can import it without waiting on main.ts's top-level await.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from '../errors.js';
import { parseDtype, type Dtype } from '../runtime/dtype.js';

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** What parseFlags returns (named, so the build can emit its declaration). */
export type ParsedFlags<T extends FlagOptions> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

export function parseFlags<T extends FlagOptions>(argv: string[], options: T): ParsedFlags<T> {
  return parseArgs({ args: argv, options, allowPositionals: true, strict: true } as const);
}

/** A positive-integer flag given as text: `fallback` when absent, else the number or an error naming the flag. */
export function positiveIntFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InputError(`--${name} must be a positive integer (got '${value}')`);
  return n;
}

/**
 * `--eos-fill` / `--no-eos-fill` (diffusion, generate and bench): the end-of-text fill, on by
 * default (DiffusionOptions.eosFill); undefined when neither is given.
 */
export function eosFillFlag(values: { 'eos-fill'?: boolean | undefined; 'no-eos-fill'?: boolean | undefined }): boolean | undefined {
  if (values['eos-fill'] && values['no-eos-fill']) throw new InputError('give --eos-fill or --no-eos-fill, not both');
  return values['no-eos-fill'] ? false : values['eos-fill'] ? true : undefined;
}

/** `--dtype auto|fp32|int8|int4` (generate, serve, bench): undefined when absent (the library's default, auto). */
export function dtypeFlag(value: string | undefined): Dtype | 'auto' | undefined {
  return value === undefined ? undefined : parseDtype(value, '--dtype', true);
}
