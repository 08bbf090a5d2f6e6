/**
 * Declared, typed strategy parameters. Strategies declare their parameters with the paper's
 * defaults; user-given values (`--set key=value`, API objects, server request fields) are
 * checked against the declaration so a typo names the option instead of being ignored.
 */
import { OptionError } from '../errors.js';

export type ParamType = 'int' | 'number' | 'boolean' | 'string';

export interface ParamSpec {
  type: ParamType;
  default: number | boolean | string | null;
  description: string;
  /** for strings: the allowed values */
  choices?: readonly string[];
  min?: number;
  max?: number;
  /**
   * for strings that name something on disk: a checkpoint (`model`: a directory or a built-in
   * model's name), an ADED datastore (`datastore`: `auto`, `none`, a file or a model directory),
   * or any other file (`file`). Hosts that take values from others (the server) resolve or refuse
   * these by this mark instead of by the parameter's name.
   */
  names?: 'model' | 'datastore' | 'file';
  /**
   * how the host machine runs the strategy (ORT threads of a draft model): a server decides it
   * for every request, a request cannot set it
   */
  hostSetting?: boolean;
}

export type ParamSpecs = Record<string, ParamSpec>;
export type ParamValues = Record<string, number | boolean | string | null>;

/**
 * The value type one spec declares: its choices, or its type; `| null` when its default is null.
 * (Distributes over `T`, so the undeclared `ParamSpec` gives the union of every value type.)
 */
type DeclaredValue<T extends ParamType, S extends ParamSpec> = T extends 'int' | 'number'
  ? number
  : T extends 'boolean'
    ? boolean
    : S extends { readonly choices: readonly (infer C extends string)[] }
      ? C
      : string;
export type ParamValue<S extends ParamSpec> = null extends S['default'] ? DeclaredValue<S['type'], S> | null : DeclaredValue<S['type'], S>;

/**
 * The resolved values of a set of specs, typed from the specs themselves: a strategy reads
 * `params.tau` as a number, `params.verify` as its choices, without a cast.
 */
export type ParamValuesOf<P extends ParamSpecs> = { readonly [K in keyof P]: ParamValue<P[K]> };

/**
 * Declare a block of parameters with its literal types kept (so `ParamValuesOf` sees the
 * choices and null defaults); for blocks shared between strategies and spread into their specs.
 */
export function paramSpecs<const P extends ParamSpecs>(specs: P): P {
  return specs;
}

/** Convert one raw value (string from the CLI, or JSON value) to the declared type. */
export function coerceParam(owner: string, key: string, spec: ParamSpec, raw: unknown): number | boolean | string | null {
  const bad = (why: string): never => {
    throw new OptionError(`${owner}: option '${key}' ${why} (got ${JSON.stringify(raw)})`);
  };
  if (raw === null) return null;
  switch (spec.type) {
    case 'int':
    case 'number': {
      const v = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(v)) bad('must be a number');
      if (spec.type === 'int' && !Number.isInteger(v)) bad('must be an integer');
      if (spec.min !== undefined && v < spec.min) bad(`must be >= ${spec.min}`);
      if (spec.max !== undefined && v > spec.max) bad(`must be <= ${spec.max}`);
      return v;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return bad('must be true or false');
    }
    case 'string': {
      if (typeof raw !== 'string') return bad('must be a string');
      if (spec.choices && !spec.choices.includes(raw)) bad(`must be one of ${spec.choices.join(', ')}`);
      return raw;
    }
  }
}

/**
 * Resolve user values against specs: defaults filled in, unknown keys rejected. A given `null`
 * (JSON clients send it for "not set") means the default, so a value is null only where its
 * spec's default is.
 */
export function resolveParams<P extends ParamSpecs>(owner: string, specs: P, given: Record<string, unknown> = {}): ParamValuesOf<P> {
  const out: ParamValues = {};
  for (const key of Object.keys(given)) {
    if (!(key in specs)) {
      const known = Object.keys(specs);
      throw new OptionError(
        `${owner}: unknown option '${key}'` + (known.length ? ` (options: ${known.join(', ')})` : ' (it takes no options)'),
      );
    }
  }
  for (const [key, spec] of Object.entries(specs)) {
    const raw = given[key];
    out[key] = raw !== undefined && raw !== null ? coerceParam(owner, key, spec, raw) : spec.default;
  }
  return out as ParamValuesOf<P>;
}

/** Parse `key=value` strings (CLI `--set`). */
export function parseSetFlags(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new OptionError(`--set expects key=value, got '${pair}'`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}
