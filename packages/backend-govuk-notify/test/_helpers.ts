import { createHmac } from 'node:crypto';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { Backend, JsonObject, OutboundMessage, SendResult } from '@herald/core';
import { makeOutboundMessage, makeSendContext, type OutboundMessageOverrides } from '@herald/core/testing';

export const SERVICE_ID = '26785a09-ab16-4eb0-8407-a37497a57506';
export const SECRET = '3d844edf-8d35-48ac-975b-e847b4f122b0';
export const API_KEY = `herald_test-${SERVICE_ID}-${SECRET}`;
export const CALLBACK_TOKEN = 'callback-token-0123456789';

/** A URL on a port nothing listens on. */
export async function closedPortUrl(): Promise<string> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A server that accepts connections and never answers (for timeouts). */
export async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HS256 JWT as Notify's clients build it, with any header and claims (to test the fake's checks). */
export function jwt(secret: string, claims: Record<string, unknown>, header: Record<string, unknown> = { typ: 'JWT', alg: 'HS256' }): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signing = `${part(header)}.${part(claims)}`;
  return `${signing}.${createHmac('sha256', secret).update(signing).digest('base64url')}`;
}

/** A message rendered for a Notify backend: `params` content. */
export function paramsMessage(params: JsonObject, overrides: OutboundMessageOverrides = {}): OutboundMessage {
  return makeOutboundMessage({
    protocol: 'email',
    to: 'ada@example.org',
    ...overrides,
    content: { format: 'params', params, html: undefined, text: undefined, subject: undefined, ...overrides.content },
  });
}

export const send = (backend: Backend, message: OutboundMessage): Promise<SendResult> => backend.send(message, makeSendContext(message));

export const failure = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => {
      throw new Error('expected the send to fail');
    },
    (error: unknown) => error,
  );

export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, stepMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
