/**
 * Reading a JSON request body: bounded in size (413), strict UTF-8 (400), valid JSON (400).
 *
 * The size limit is checked against Content-Length before anything is read and again while
 * reading (chunked bodies have no length). Past the limit the rest of the body is discarded,
 * not kept, and the 413 answer closes the connection, so an oversized body never sits in memory.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.js';

function tooLarge(limitBytes: number, declared?: string): HttpError {
  const what = declared !== undefined ? `request body of ${declared} bytes` : 'request body';
  return new HttpError(413, `${what} is over the limit of ${limitBytes} bytes`, { code: 'body_too_large', headers: { Connection: 'close' } });
}

function readRaw(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) {
    req.resume(); // discard
    return Promise.reject(tooLarge(limitBytes, declared));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        chunks.length = 0;
        req.resume(); // keep the socket flowing, drop the bytes
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(new HttpError(400, `could not read the request body (${e.message})`));
    };
    const onAborted = (): void => {
      cleanup();
      reject(new HttpError(400, 'the client closed the connection while sending the body'));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const raw = await readRaw(req, limitBytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new HttpError(400, 'request body is not valid UTF-8', { code: 'invalid_utf8' });
  }
  if (text.trim() === '') throw new HttpError(400, 'request body is empty; expected a JSON object', { code: 'invalid_json' });
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new HttpError(400, `request body is not valid JSON (${(e as Error).message})`, { code: 'invalid_json' });
  }
}
