/**
 * Flag parsing with paradec's conventions: node:util parseArgs, strict (an unknown flag is an
 * error that names it), positionals allowed. Its own module so that commands loaded lazily by
 * main.ts can import it without waiting on main.ts's top-level await.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  return parseArgs({ args: argv, options, allowPositionals: true, strict: true } as const);
}
