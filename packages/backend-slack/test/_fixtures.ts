import type { OutboundMessage, RenderedContent, SendContext } from '@herald/core';

export function slackMessage(to: string, content: RenderedContent, overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  return {
    deliveryId: 'dlv_1',
    notification: 'deploy-finished',
    protocol: 'slack-webhook',
    backend: 'slack',
    to,
    recipient: {},
    content,
    attachments: [],
    options: {},
    ...overrides,
  };
}

export function sendContext(signal: AbortSignal = new AbortController().signal): SendContext {
  const noop = () => undefined;
  return { attempt: 1, idempotencyKey: 'dlv_1', signal, logger: { debug: noop, info: noop, warn: noop, error: noop } };
}
