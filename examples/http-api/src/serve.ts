/**
 * What `herald serve --port 0` does with herald.config.ts, written out: create the HTTP API for the configured
 * Herald, listen on a free loopback port, print the URL as the first line, and run a worker in the same process so
 * enqueued messages go out. Stops on SIGTERM / SIGINT.
 */
import { createHerald } from '@herald/core';
import { createServer, serve } from '@herald/server';
import options, { server as serverOptions } from '../herald.config';

const herald = createHerald(options);
await herald.store.migrate();
const server = await serve(createServer(herald, serverOptions), { port: Number(process.env.PORT ?? 0), hostname: '127.0.0.1' });
console.log(server.url);
const worker = herald.worker({ pollInterval: '100ms' });

async function stop() {
  await server.close();
  await worker.stop();
  await herald.close();
  process.exit(0);
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
