import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { classifyAttempt, createHerald, defineNotification, PermanentError, TransientError, UnsupportedFeatureError } from '../src';
import { captureBackend, memoryStore } from '../src/testing';

describe('render: a template `from` (django-vox from_address)', () => {
  const n = defineNotification({
    id: 'from-test',
    schema: z.object({ shop: z.string() }),
    templates: { email: { format: 'text', from: '"{{shop}}" <shop@shop.dev>', subject: 'Hi', body: 'x' } },
  });
  const setup = () => {
    const email = captureBackend({ protocol: 'email', defaults: { from: 'default@shop.dev' } });
    return { email, herald: createHerald({ store: memoryStore(), backends: [email], notifications: [n], logger: false }) };
  };
  const to = [{ contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] }];

  it('becomes the message sender over the backend default', async () => {
    const { herald, email } = setup();
    await herald.notify(n, { shop: 'Tea & Co' }, to);
    await herald.drain();
    expect(email.messages[0]!.options.from).toBe('"Tea & Co" <shop@shop.dev>');
  });

  it('a from passed to notify() still wins', async () => {
    const { herald, email } = setup();
    await herald.notify(n, { shop: 'Tea' }, to, { options: { from: 'ops@shop.dev' } });
    await herald.drain();
    expect(email.messages[0]!.options.from).toBe('ops@shop.dev');
  });
});

describe('classifyAttempt (pure)', () => {
  const fallback = { backend: 'b', content: { format: 'text' as const, text: 'x' }, attachments: [], options: {} };
  const base = { attempts: 1, maxAttempts: 3, expiresAt: null, message: null };
  const withFallback = { ...base, message: { deliveryId: 'd', notification: 'n', protocol: 'email' as const, backend: 'a', to: 'x@y.dev', recipient: {}, content: fallback.content, attachments: [], options: {}, fallbacks: [fallback] } };
  const input = { errorText: 'e', now: 1_000, retryDelayMs: 500, failsOver: (f: unknown) => f instanceof HeraldLike };
  class HeraldLike extends TransientError {}

  it('success is sent', () => {
    expect(classifyAttempt({ ...input, delivery: base, failure: null }).kind).toBe('sent');
  });
  it('a transient failure with budget left retries after the delay', () => {
    expect(classifyAttempt({ ...input, delivery: base, failure: new TransientError('x') })).toEqual({ kind: 'retry', at: new Date(1_500), error: 'e' });
  });
  it('exhausted retries fail, or fail over when there is a fallback and the failure allows it', () => {
    const exhausted = { ...withFallback, attempts: 3 };
    expect(classifyAttempt({ ...input, delivery: { ...base, attempts: 3 }, failure: new HeraldLike('x') })).toMatchObject({ kind: 'failed', error: 'gave up after 3 attempts: e' });
    expect(classifyAttempt({ ...input, delivery: exhausted, failure: new HeraldLike('x') })).toMatchObject({ kind: 'failover', to: fallback, rest: [] });
    expect(classifyAttempt({ ...input, delivery: exhausted, failure: new TransientError('x') })).toMatchObject({ kind: 'failed' });
  });
  it('the next retry past maxAge gives up like an exhausted budget', () => {
    expect(classifyAttempt({ ...input, delivery: { ...base, expiresAt: new Date(1_200) }, failure: new TransientError('x') })).toMatchObject({ kind: 'failed', error: 'gave up: next retry would exceed retry.maxAge: e' });
  });
  it('permanent and unsupported fail at once unless they fail over; suppress is carried', () => {
    expect(classifyAttempt({ ...input, delivery: base, failure: new PermanentError('x', { suppress: true }) })).toEqual({ kind: 'failed', error: 'e', suppress: true });
    expect(classifyAttempt({ ...input, delivery: withFallback, failure: new UnsupportedFeatureError('a', 'cc') })).toMatchObject({ kind: 'failed' });
    expect(classifyAttempt({ ...input, failsOver: () => true, delivery: withFallback, failure: new PermanentError('x') })).toMatchObject({ kind: 'failover' });
  });
  it('an open circuit fails over, or retries later when nothing is left', () => {
    expect(classifyAttempt({ ...input, delivery: withFallback, failure: null, circuitOpen: true })).toMatchObject({ kind: 'failover' });
    expect(classifyAttempt({ ...input, delivery: base, failure: null, circuitOpen: true })).toMatchObject({ kind: 'retry' });
  });
});

describe("herald.on('attempt')", () => {
  it('sees every recorded attempt with its outcome, backend and worker', async () => {
    const n = defineNotification({ id: 'a', schema: z.object({}), templates: { email: { format: 'text', subject: 'S', body: 'B' } } });
    const email = captureBackend({ protocol: 'email' });
    const herald = createHerald({ store: memoryStore(), backends: [email], notifications: [n], retry: { backoff: { type: 'fixed', delay: 0 } }, logger: false });
    const seen: [string, string | null, number][] = [];
    herald.on('attempt', (attempt) => seen.push([attempt.outcome, attempt.backend, attempt.attempt]));
    email.failNext('transient');
    await herald.notify(n, {}, [{ contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] }]);
    await herald.drain();
    expect(seen).toEqual([
      ['transient', 'capture-email', 1],
      ['sent', 'capture-email', 2],
    ]);
  });
});
