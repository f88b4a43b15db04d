import type { OutboundMessage, SendContext } from '@herald/core';
import twilioSdk from 'twilio';

export const ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`;
export const AUTH_TOKEN = 'tok_secret_5f2b9c1d7e';

export function smsMessage(text: string, to = '+14155550123', overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  return {
    deliveryId: 'dlv_1',
    notification: 'order-shipped',
    protocol: 'sms',
    backend: 'twilio',
    to,
    recipient: { id: 'u1' },
    content: { format: 'text', text },
    attachments: [],
    options: {},
    ...overrides,
  };
}

export function sendContext(signal: AbortSignal = new AbortController().signal): SendContext {
  const noop = () => undefined;
  return { attempt: 1, idempotencyKey: 'dlv_1', signal, logger: { debug: noop, info: noop, warn: noop, error: noop } };
}

/** The transport ENVIRONMENT.md describes: twilio's own RequestClient with api.twilio.com rewritten onto loopback. */
export class LoopbackRequestClient extends twilioSdk.RequestClient {
  constructor(private readonly origin: string) {
    super();
  }
  override request<T>(opts: Parameters<twilioSdk.RequestClient['request']>[0] & { data?: T }) {
    const uri = new URL(opts.uri);
    return super.request<T>({ ...opts, uri: this.origin + uri.pathname + uri.search });
  }
}
