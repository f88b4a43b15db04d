import { z } from 'zod';
import { type CommonBackendOptions, defineBackend } from '../backend';
import { PermanentError, TransientError } from '../errors';
import type { Protocol } from '../protocols';
import { TEMPLATE_FORMATS, type Backend, type OutboundMessage, type SendContext, type TemplateFormat } from '../types';

export interface CaptureBackendOptions extends CommonBackendOptions {
  protocol: Protocol;
  /** Template formats it accepts. @default all formats */
  formats?: readonly TemplateFormat[];
  /** Simulated send latency in ms. @default 0 */
  latencyMs?: number;
}

/** A failure to inject into the next sends. */
export type InjectedFailure = 'transient' | 'permanent' | Error;

export interface CaptureBackend extends Backend {
  /** Every message sent, in order. */
  readonly messages: OutboundMessage[];
  /** Context of each send (attempt number, idempotency key). */
  readonly contexts: SendContext[];
  /** Make the next `times` sends fail (default once). */
  failNext(failure: InjectedFailure, times?: number): void;
  /** Forget captured messages and pending failures. */
  clear(): void;
}

/**
 * A backend for tests (yours and Herald's): records every message instead of sending it, for any protocol, and
 * fails on demand. It is a test sink, so reserved test addresses (`.test`, `example.com`) reach it.
 *
 * @example
 * ```ts
 * const email = captureBackend({ protocol: 'email' });
 * const herald = createHerald({ store: memoryStore(), backends: [email], notifications: [welcome] });
 * await herald.notify(welcome, { name: 'Ada' }, [{ contacts: [{ protocol: 'email', address: 'ada@example.com' }] }]);
 * await herald.drain();
 * expect(email.messages[0].content.subject).toBe('Welcome, Ada');
 * ```
 */
export function captureBackend(options: CaptureBackendOptions): CaptureBackend {
  const { protocol, formats = TEMPLATE_FORMATS, latencyMs = 0, test = true, ...common } = options;
  const messages: OutboundMessage[] = [];
  const contexts: SendContext[] = [];
  const failures: InjectedFailure[] = [];
  const factory = defineBackend({
    name: 'capture',
    protocol,
    formats,
    options: z.object({}),
    capabilities: {
      attachments: true,
      inlineAttachments: true,
      cc: true,
      bcc: true,
      replyTo: true,
      headers: true,
      maxTags: Number.POSITIVE_INFINITY,
      metadata: true,
      sendAt: true,
      trackOpens: true,
      trackClicks: true,
      providerOptions: true,
    },
    setup: () => ({
      async send(message, context) {
        if (latencyMs) await new Promise((resolve) => setTimeout(resolve, latencyMs));
        const failure = failures.shift();
        if (failure === 'transient') throw new TransientError('injected transient failure', { backend: message.backend });
        if (failure === 'permanent') throw new PermanentError('injected permanent failure', { backend: message.backend, rejectReason: 'invalid' });
        if (failure) throw failure;
        messages.push(message);
        contexts.push(context);
        return { messageId: `capture-${message.deliveryId}`, recipients: { [message.to]: { status: 'sent', messageId: `capture-${message.deliveryId}` } } };
      },
    }),
  });
  const backend = factory({ name: common.name ?? `capture-${protocol}`, test, ...common });
  return Object.assign(backend, {
    messages,
    contexts,
    failNext(failure: InjectedFailure, times = 1) {
      for (let i = 0; i < times; i++) failures.push(failure);
    },
    clear() {
      messages.length = 0;
      contexts.length = 0;
      failures.length = 0;
    },
  });
}
