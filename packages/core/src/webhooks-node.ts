import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

/** Options of {@link toNodeHandler}. */
export interface NodeHandlerOptions {
  /**
   * Public origin used to build `request.url` (e.g. `https://app.example.com`) when the app runs behind a proxy
   * and a backend signs the full URL. @default `http://<Host header>`
   */
  origin?: string;
}

function _toRequest(req: IncomingMessage, origin: string | undefined): Request {
  const base = origin ?? `http://${req.headers.host ?? 'localhost'}`;
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  const method = req.method ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (method !== 'GET' && method !== 'HEAD') {
    // Express/Connect body parsers may already have consumed the stream (use `express.raw()`).
    const parsed = (req as IncomingMessage & { body?: unknown }).body;
    if (parsed instanceof Uint8Array || typeof parsed === 'string') {
      init.body = parsed;
    } else {
      init.body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
      init.duplex = 'half';
    }
  }
  return new Request(new URL(req.url ?? '/', base), init);
}

async function _send(response: Response, res: ServerResponse): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) res.setHeader(name, value);
  if (!response.body) {
    res.end();
    return;
  }
  res.end(Buffer.from(await response.arrayBuffer()));
}

/**
 * Adapt a Fetch-API handler (`herald.webhooks.handle`) to `node:http` / Express / Connect `(req, res)`.
 * With Express, mount it before `express.json()` (or give it `express.raw({ type: '*\/*' })`): signatures
 * are checked over the raw body.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * createServer(toNodeHandler(herald.webhooks.handle)).listen(3000);
 * // Express: app.post('/herald/*', toNodeHandler(herald.webhooks.handle));
 * ```
 */
export function toNodeHandler(
  handle: (request: Request) => Promise<Response>,
  options: NodeHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return function nodeWebhookHandler(req: IncomingMessage, res: ServerResponse): void {
    void (async () => {
      try {
        await _send(await handle(_toRequest(req, options.origin)), res);
      } catch {
        if (!res.headersSent) {
          res.statusCode = 500;
          res.setHeader('content-type', 'application/json');
        }
        res.end(JSON.stringify({ error: 'webhook handler failed' }));
      }
    })();
  };
}
