/**
 * Errors with an HTTP status, and the mapping from paradec's typed errors to statuses.
 *
 * Every error answer has OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, so
 * the official clients surface the message; `param` names the request field at fault.
 */
import { ParadecError } from '../errors.js';

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: { type?: string; param?: string | null; code?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  body(): ErrorBody {
    return {
      error: {
        message: this.message,
        type: this.details.type ?? defaultType(this.status),
        param: this.details.param ?? null,
        code: this.details.code ?? null,
      },
    };
  }
}

function defaultType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 503) return 'overloaded_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/**
 * Why a generation was cancelled; used as the AbortSignal's reason so the decode loops throw
 * it back to us unchanged and we can tell a disconnect from a time limit or a shutdown.
 */
export class Cancelled extends Error {
  constructor(readonly reason: 'disconnect' | 'timeout' | 'shutdown') {
    super(`generation cancelled (${reason})`);
    this.name = 'Cancelled';
  }
}

/** Any thrown value → an HttpError (user-caused paradec errors are 400, the rest 500). */
export function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof Cancelled) {
    if (e.reason === 'timeout') return new HttpError(504, 'the request exceeded the server time limit', { type: 'timeout_error', code: 'timeout' });
    return new HttpError(503, `the request was cancelled (${e.reason})`, { code: e.reason, headers: { 'Retry-After': '1' } });
  }
  if (e instanceof ParadecError) {
    if (e.code === 'option' || e.code === 'input') return new HttpError(400, e.message, { code: e.code });
    return new HttpError(500, e.message, { code: e.code });
  }
  const message = e instanceof Error ? e.message.split('\n')[0]! : String(e);
  return new HttpError(500, `internal error: ${message}`);
}
