/** An XML element as `@xmpp/client` (ltx) represents it: the members this backend reads. */
export interface XmppElement {
  name: string;
  attrs: Record<string, string | undefined>;
  is(name: string, xmlns?: string): boolean;
  getChild(name: string, xmlns?: string): XmppElement | undefined;
  getChildText(name: string, xmlns?: string): string | null;
  getChildElements(): XmppElement[];
  toString(): string;
}

/**
 * The part of an `@xmpp/client` `Client` the backend uses. Pass one as the `client` option to configure the
 * connection yourself (custom SASL credentials, transports…); the backend starts, stops and restarts it, and turns
 * off its built-in reconnect module (the backend reconnects on the next send instead).
 *
 * @example
 * ```ts
 * import { client } from '@xmpp/client';
 * const backend = xmpp({ client: client({ service: 'xmpps://chat.example.org:5223', username: 'bot', password }) });
 * ```
 */
export interface XmppClient {
  status: string;
  jid: { toString(): string } | null;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(element: XmppElement): Promise<void>;
  on(event: 'stanza', listener: (stanza: XmppElement) => void): unknown;
  on(event: 'status', listener: (status: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  iqCaller: { request(stanza: XmppElement, timeout?: number): Promise<XmppElement> };
  reconnect?: { stop(): void };
  options?: { domain?: string };
}
