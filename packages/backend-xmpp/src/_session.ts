/// <reference path="./_xmpp-client.d.ts" />
import { xml } from '@xmpp/client';
import type { XmppClient, XmppElement } from './client';

/** One stream of the shared client; `dropped` rejects when it goes away. */
interface Stream {
  dropped: Promise<never>;
  drop(error: Error): void;
}

/** What the server answered to a message, learnt from a ping sent right behind it. */
export type _Outcome = { ok: true } | { ok: false; error: XmppElement };

/**
 * One XMPP connection shared by every send: opened on first use, reopened on the next send after the server
 * dropped it. Sends during (re)connection wait for it.
 */
export interface _Session {
  /** Send a stanza and wait until the server has processed it (an XEP-0199 ping answered behind it, in order). */
  deliver(stanza: XmppElement, signal: AbortSignal): Promise<_Outcome>;
  close(): Promise<void>;
  /** Streams opened so far (1 while the first connection lives). */
  readonly opened: number;
}

class _Timeout extends Error {}

function _within<T>(promise: Promise<T>, ms: number, what: string, signal: AbortSignal, extra?: Promise<never>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const limits = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new _Timeout(`${what} timed out after ${ms} ms`)), ms);
    onAbort = () => reject(new _Timeout(`${what} aborted`));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race(extra ? [promise, limits, extra] : [promise, limits]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  });
}

export function _session(client: XmppClient, domain: string, timeout: number): _Session {
  client.reconnect?.stop();
  let stream: Stream | null = null;
  let opening: Promise<Stream> | null = null;
  let lastError: Error | null = null;
  let opened = 0;
  const bounces = new Map<string, (stanza: XmppElement) => void>();

  // Without an 'error' listener EventEmitter would throw; the error also rejects whatever is pending.
  client.on('error', (error) => {
    lastError = error;
  });
  client.on('status', (status) => {
    if (status === 'disconnect' || status === 'offline') stream?.drop(new Error(`connection closed (${lastError?.message ?? status})`));
  });
  client.on('stanza', (stanza) => {
    const id = stanza.attrs.id;
    if (id && stanza.is('message') && stanza.attrs.type === 'error') bounces.get(id)?.(stanza);
  });

  async function open(signal: AbortSignal): Promise<Stream> {
    stream = null;
    if (client.status !== 'offline') await client.stop().catch(() => undefined);
    lastError = null;
    let drop: (error: Error) => void = () => undefined;
    const dropped = new Promise<never>((_, reject) => {
      drop = reject;
    });
    dropped.catch(() => undefined);
    const next: Stream = { dropped, drop };
    try {
      await _within(client.start(), timeout, 'connecting', signal);
    } catch (error) {
      const cause = lastError ?? error;
      await client.stop().catch(() => undefined);
      throw cause;
    }
    opened++;
    stream = next;
    return next;
  }

  function online(signal: AbortSignal): Promise<Stream> {
    if (stream && client.status === 'online') return Promise.resolve(stream);
    opening ??= open(signal).finally(() => {
      opening = null;
    });
    return opening;
  }

  return {
    get opened() {
      return opened;
    },
    async deliver(stanza, signal) {
      const current = await online(signal);
      const id = stanza.attrs.id ?? '';
      let bounce: XmppElement | null = null;
      bounces.set(id, (error) => {
        bounce = error;
      });
      try {
        await client.send(stanza);
        const ping = xml('iq', { type: 'get', to: domain }, xml('ping', { xmlns: 'urn:xmpp:ping' }));
        // The server handles a stream's stanzas in order: once the ping is answered, any bounce has arrived.
        const answered = client.iqCaller.request(ping, timeout).catch((error: Error) => {
          if (error.name !== 'StanzaError') throw error; // a server without ping answers with an error: still in order
        });
        await _within(answered, timeout, 'waiting for the server', signal, current.dropped);
        const error: XmppElement | null = bounce;
        return error ? { ok: false, error } : { ok: true };
      } finally {
        bounces.delete(id);
      }
    },
    async close() {
      await opening?.catch(() => undefined);
      stream = null;
      if (client.status !== 'offline') await client.stop().catch(() => undefined);
    },
  };
}
