import { ConfigError, type HeraldWorker } from '@herald/core';
import type { ServerOptions } from '@herald/server';
import type { Command } from 'commander';
import { action, type CommonOptions, examples, type Runtime, withCommonOptions } from '../_command';
import { EXIT } from '../_output';
import { port, positiveInt } from '../_parse';
import { shutdownOn, sleep } from '../_signals';

interface ServeOptions extends CommonOptions {
  port: number;
  host: string;
  allowKeylessRpcOnPublicHost?: boolean;
  allowNoAuthOnPublicHost?: boolean;
  worker?: boolean;
  concurrency?: number;
}

/**
 * Keyless access only on this machine: postmaster's RPC had no authentication and its README says never to
 * expose the port. Binding it (or a keyless API) to another address takes an explicit flag.
 */
export function refuseKeyless(
  server: ServerOptions,
  host: string,
  loopback: boolean,
  opts: Pick<ServeOptions, 'allowKeylessRpcOnPublicHost' | 'allowNoAuthOnPublicHost'>,
  file: string,
): void {
  if (loopback) return;
  if (server.rpc?.auth === 'none' && server.rpc.enabled !== false && !opts.allowKeylessRpcOnPublicHost) {
    throw new ConfigError(
      `refusing keyless JSON-RPC (server.rpc.auth: 'none' in ${file}) on ${host}, which is not a loopback address: anyone who reaches it can send as you. Bind to 127.0.0.1, set rpc.auth to 'key', or pass --allow-keyless-rpc-on-public-host`,
      { field: 'server.rpc.auth' },
    );
  }
  if (server.auth === 'none' && !opts.allowNoAuthOnPublicHost) {
    throw new ConfigError(
      `refusing an API without keys (server.auth: 'none' in ${file}) on ${host}, which is not a loopback address. Bind to 127.0.0.1, use auth: 'keys', or pass --allow-no-auth-on-public-host`,
      { field: 'server.auth' },
    );
  }
}

export function registerServe(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('serve')
    .description('serve the HTTP API (@herald/server); the first line printed is the URL; runs until SIGINT/SIGTERM')
    .option('-p, --port <port>', 'port to listen on (0 picks a free one)', port, 3000)
    .option('--host <host>', 'address to bind (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--worker', 'also run a worker in this process')
    .option('--concurrency <n>', 'with --worker: sends in flight at once', positiveInt)
    .option('--allow-keyless-rpc-on-public-host', "serve rpc: { auth: 'none' } on a non-loopback address anyway")
    .option('--allow-no-auth-on-public-host', "serve auth: 'none' on a non-loopback address anyway");
  withCommonOptions(cmd);
  examples(cmd, ['herald serve --port 8080', 'herald serve --port 0 --worker', 'herald serve --host 0.0.0.0 --port 8080   # API keys required (herald keys create)']);
  cmd.action(
    action<ServeOptions>(runtime, async ({ opts, out, load, signals, keepOpen }) => {
      const shutdown = shutdownOn(signals);
      try {
        const config = await load();
        // Loaded here, not at start-up: only serve needs the HTTP stack.
        const { createServer, isLoopback, serve } = await import('@herald/server');
        const serverOptions = config.server ?? {};
        refuseKeyless(serverOptions, opts.host, isLoopback(opts.host), opts, config.displayPath);
        const app = createServer(config.herald, serverOptions);
        const running = await serve(app, { port: opts.port, hostname: opts.host });
        // The URL goes first and alone on stdout so scripts can read it (`--port 0`).
        runtime.io.stdout.write(opts.json ? `${JSON.stringify({ url: running.url })}\n` : `${running.url}\n`);
        let worker: HeraldWorker | null = null;
        if (opts.worker) worker = config.herald.worker(opts.concurrency ? { concurrency: opts.concurrency } : {});
        out.note(out.errColor.dim(`serving ${config.displayPath} on ${running.url}${worker ? ` with worker ${worker.id}` : ''}; Ctrl-C to stop`));
        const signal = await shutdown.requested;
        out.note(out.errColor.dim(`${signal}: stopping`));
        const stopped = await Promise.race([
          Promise.all([running.close(), worker?.stop()]).then(() => 'stopped' as const),
          sleep(30_000),
          shutdown.forced.then(() => 'forced' as const),
        ]);
        if (stopped !== 'stopped') keepOpen();
        if (stopped === 'forced') return EXIT.interrupted;
        if (stopped === 'timeout') {
          out.warn('requests or sends still in flight after 30s; exiting');
          return EXIT.failure;
        }
        return EXIT.ok;
      } finally {
        shutdown.dispose();
      }
    }),
  );
}
