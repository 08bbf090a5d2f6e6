/**
 * Server-sent events on a Node response: `data: <json>\n\n` frames and the closing
 * `data: [DONE]`, as the OpenAI streaming protocol has them; and the reading of such a stream
 * (`sseData`: the serving benchmark's client, and the server's tests).
 *
 * `send` resolves once the frame is handed to the socket, waiting for 'drain' when the socket's
 * buffer is full: the generation loop awaits it, so a slow reader slows the generation down
 * instead of piling chunks up in memory. It resolves false once the client is gone.
 */
import type { ServerResponse } from 'node:http';

export class SseWriter {
  private started = false;

  constructor(private readonly res: ServerResponse) {}

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  /** Write the status line and headers (once). */
  start(extraHeaders: Record<string, string> = {}): void {
    if (this.started) return;
    this.started = true;
    const headers: Record<string, string> = {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
      ...extraHeaders,
    };
    // setHeader (not writeHead's argument) so the headers stay readable: an error after the
    // stream started is sent as an SSE frame when Content-Type says this is a stream
    for (const [k, v] of Object.entries(headers)) this.res.setHeader(k, v);
    this.res.writeHead(200);
    this.res.flushHeaders();
  }

  send(data: unknown): Promise<boolean> {
    return this.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** The stream's end marker, then the end of the response. */
  async done(): Promise<void> {
    await this.write('data: [DONE]\n\n');
    this.end();
  }

  end(): void {
    if (!this.closed) this.res.end();
  }

  private write(frame: string): Promise<boolean> {
    this.start();
    if (this.closed) return Promise.resolve(false);
    if (this.res.write(frame)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onDrain = (): void => {
        this.res.off('close', onClose);
        resolve(true);
      };
      const onClose = (): void => {
        this.res.off('drain', onDrain);
        resolve(false);
      };
      this.res.once('drain', onDrain);
      this.res.once('close', onClose);
    });
  }
}

/** The `data:` payloads of an SSE response, JSON-parsed (the final `[DONE]` as the string). */
export async function* sseData(res: Response): AsyncGenerator<unknown> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      if (data) yield data === '[DONE]' ? data : (JSON.parse(data) as unknown);
    }
  }
}
