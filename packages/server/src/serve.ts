import { isIP } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';

/**
 * Whether a bind address only accepts connections from this machine: `localhost`, `127.0.0.0/8`, `::1` (also
 * bracketed or IPv4-mapped). `0.0.0.0`, `::` and every other name or address are not. `herald serve` refuses
 * keyless JSON-RPC (`rpc: { auth: 'none' }`) on a bind for which this is false, unless forced.
 *
 * @example
 * ```ts
 * import { isLoopback } from '@herald/server';
 *
 * isLoopback('127.0.0.1'); // true
 * isLoopback('0.0.0.0'); // false
 * ```
 */
export function isLoopback(hostname: string): boolean {
  const host = hostname.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost') return true;
  const v4 = host.startsWith('::ffff:') && isIP(host.slice(7)) === 4 ? host.slice(7) : host;
  if (isIP(v4) === 4) return v4.split('.')[0] === '127';
  if (isIP(host) === 6) {
    // Expand `::` so `::1`, `0:0:0:0:0:0:0:1` and `0000::1` compare alike.
    const [head, tail] = host.includes('::') ? host.split('::') : [host, undefined];
    const left = head ? head.split(':') : [];
    const right = tail ? tail.split(':') : [];
    const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
    return groups.length === 8 && groups.every((g, i) => Number.parseInt(g, 16) === (i === 7 ? 1 : 0));
  }
  return false;
}

export interface RunningServer {
  /** `http://<host>:<port>` as bound (the real port when `port` was 0). */
  readonly url: string;
  readonly port: number;
  /** Stop accepting connections, close idle keep-alive ones and wait for requests in flight. */
  close(): Promise<void>;
}

/**
 * Serve a Fetch handler (`createServer(herald)`) over HTTP with `@hono/node-server`. `port: 0` picks a free port;
 * `hostname` defaults to `127.0.0.1` (this machine only). Resolves once listening, rejects when the bind fails.
 *
 * @example
 * ```ts
 * import { createHerald } from '@herald/core';
 * import { createServer, serve } from '@herald/server';
 * import { sqliteStore } from '@herald/store-sqlite';
 *
 * const herald = createHerald({ store: sqliteStore({ path: 'herald.db' }), backends: [], notifications: [] });
 * const server = await serve(createServer(herald), { port: 0 });
 * console.log(server.url);
 * await server.close();
 * await herald.close();
 * ```
 */
export function serve(app: { fetch(request: Request): Response | Promise<Response> }, options: { port: number; hostname?: string }): Promise<RunningServer> {
  const hostname = options.hostname ?? '127.0.0.1';
  const server = createAdaptorServer({ fetch: (request: Request) => app.fetch(request), hostname });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, hostname, () => {
      server.off('error', reject);
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : options.port;
      const host = isIP(hostname) === 6 ? `[${hostname}]` : hostname;
      resolve({
        url: `http://${host}:${port}`,
        port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()));
            if ('closeIdleConnections' in server) server.closeIdleConnections();
          }),
      });
    });
  });
}
