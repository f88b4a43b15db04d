// The part of @xmpp/client 0.14 (which ships no types) that this package uses.
declare module '@xmpp/client' {
  import type { EventEmitter } from 'node:events';

  export interface Element {
    name: string;
    attrs: Record<string, string | undefined>;
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildText(name: string, xmlns?: string): string | null;
    getChildElements(): Element[];
    text(): string;
    toString(): string;
  }

  export interface Client extends EventEmitter {
    status: string;
    jid: { toString(): string } | null;
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(element: Element): Promise<void>;
    isSecure(): boolean;
    iqCaller: { request(stanza: Element, timeout?: number): Promise<Element> };
    reconnect: { start(): void; stop(): void };
  }

  export interface ClientOptions {
    service?: string;
    domain?: string;
    username?: string;
    password?: string;
    resource?: string;
    timeout?: number;
  }

  export function client(options?: ClientOptions): Client;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: (Element | string | undefined)[]): Element;
}
