import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface LoopbackAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * A loopback HTTP server on port 0 that records each request and answers with `handler`'s reply — for wire-format
 * tests of backends pointed at a fake provider.
 *
 * @example
 * ```ts
 * const api = await loopback(() => ({ status: 200, body: `{"id":"m1"}` }));
 * // point the backend at api.origin, send, then inspect api.requests[0]
 * await api.close();
 * ```
 */
export async function loopback(handler: (req: RecordedRequest) => LoopbackAnswer) {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(recorded);
      const answer = handler(recorded);
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
