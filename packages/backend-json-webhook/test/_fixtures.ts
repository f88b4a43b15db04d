import type { JsonObject, OutboundMessage, SendContext } from '@herald/core';

export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

export function hookMessage(to: string, params: JsonObject = { event: 'order.shipped', orderId: '42' }, overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  return {
    deliveryId: 'dlv_01HX',
    notification: 'order-shipped',
    protocol: 'json-webhook',
    backend: 'json-webhook',
    to,
    recipient: {},
    content: { format: 'params', params },
    attachments: [],
    options: {},
    ...overrides,
  };
}

export function sendContext(idempotencyKey = 'dlv_01HX', signal: AbortSignal = new AbortController().signal): SendContext {
  const noop = () => undefined;
  return { attempt: 1, idempotencyKey, signal, logger: { debug: noop, info: noop, warn: noop, error: noop } };
}
