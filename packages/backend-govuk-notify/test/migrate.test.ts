import { ConfigError, createHerald, type Delivery, type DeliveryStatus, ValidationError } from '@herald/core';
import { memoryStore } from '@herald/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  govukNotifyEmail,
  govukNotifyEmailNotification,
  govukNotifySms,
  govukNotifySmsNotification,
  type OutboxStatus,
  outboxStatus,
  sendEmailNotification,
  sendSmsNotification,
} from '../src';
import { type FakeNotify, startFakeNotify } from '../src/testing';
import { API_KEY, SECRET, SERVICE_ID } from './_helpers';

const TEMPLATE = '9d751e0e-f929-4891-82a1-a3e1c3c18ee3';
const SMS_TEMPLATE = 'a3c1f2d4-5b6e-4f70-8a91-b2c3d4e5f601';
const REPLY_TO = '5b7d0f0e-3a4c-4d5e-8f90-a1b2c3d4e5f6';

let notify: FakeNotify;
beforeAll(async () => {
  notify = await startFakeNotify({
    serviceId: SERVICE_ID,
    keys: [{ name: 'herald_test', secret: SECRET }],
    emailReplyToIds: [REPLY_TO],
    templates: [
      { id: TEMPLATE, type: 'email', subject: 'Hello ((first_name))', body: 'Dear ((first_name)), see ((items))' },
      { id: SMS_TEMPLATE, type: 'sms', body: 'Code ((code))' },
    ],
  });
});
afterAll(() => notify.close());

const heraldWith = () =>
  createHerald({
    store: memoryStore(),
    backends: [
      govukNotifyEmail({ apiKey: API_KEY, baseUrl: notify.url, poll: false, test: true }),
      govukNotifySms({ apiKey: API_KEY, baseUrl: notify.url, poll: false }),
    ],
    notifications: [govukNotifyEmailNotification, govukNotifySmsNotification],
    logger: false,
  });

describe('sendEmailNotification (django-govuk-notify-outbox’s send_email_notification)', () => {
  it('queues the email and returns its delivery at once; the worker sends it with the same fields as sendEmail', async () => {
    const herald = heraldWith();
    const delivery = await sendEmailNotification(herald, TEMPLATE, 'amala@example.com', {
      personalisation: { first_name: 'Amala', items: ['a form', 'a receipt'] },
      reference: 'case-1234',
      emailReplyToId: REPLY_TO,
      oneClickUnsubscribeURL: 'https://app.example.org/unsubscribe/amala',
      recipientId: 'amala',
    });
    expect(delivery).toMatchObject({ status: 'queued', backend: 'govuk-notify-email', address: 'amala@example.com', dedupeKey: 'case-1234', recipientId: 'amala' });
    expect(outboxStatus(delivery)).toBe('sending-to-notify');
    await herald.drain();
    expect(notify.last().json).toEqual({
      template_id: TEMPLATE,
      email_address: 'amala@example.com',
      personalisation: { first_name: 'Amala', items: ['a form', 'a receipt'] },
      reference: delivery.id,
      email_reply_to_id: REPLY_TO,
      one_click_unsubscribe_url: 'https://app.example.org/unsubscribe/amala',
    });
    const sent = (await herald.deliveries.get(delivery.id))!;
    expect(outboxStatus(sent)).toBe('sent-to-notify');
    expect(notify.notifications.get(sent.providerMessageId!)!.body).toBe('Dear Amala, see \n* a form\n* a receipt');
    expect(await herald.deliveries.list({ dedupeKey: 'case-1234' })).toHaveLength(1);
    await herald.close();
  });

  it('with only the two required arguments, as in the seed’s README', async () => {
    const herald = heraldWith();
    notify.templates.set('0c5b4f3e-1a2b-4c3d-8e9f-0a1b2c3d4e5f', { id: '0c5b4f3e-1a2b-4c3d-8e9f-0a1b2c3d4e5f', type: 'email', subject: 'Hi', body: 'Plain' });
    const delivery = await sendEmailNotification(herald, '0c5b4f3e-1a2b-4c3d-8e9f-0a1b2c3d4e5f', 'amala@example.com');
    await herald.drain();
    expect(notify.last().json).toEqual({ template_id: '0c5b4f3e-1a2b-4c3d-8e9f-0a1b2c3d4e5f', email_address: 'amala@example.com', personalisation: {}, reference: delivery.id });
    await herald.close();
  });

  it('a refusal by Notify fails the delivery as failed-send-to-notify, with Notify’s message', async () => {
    const herald = heraldWith();
    const delivery = await sendEmailNotification(herald, TEMPLATE, 'amala@example.com', { personalisation: { first_name: 'Amala' } });
    await herald.drain();
    const failed = (await herald.deliveries.get(delivery.id))!;
    expect(failed).toMatchObject({ status: 'failed', lastError: expect.stringContaining('Missing personalisation: items') });
    expect(outboxStatus(failed)).toBe('failed-send-to-notify');
    await herald.close();
  });

  it('a suppressed address returns the skipped delivery; misuse is a clear error', async () => {
    const herald = heraldWith();
    await herald.suppressions.add('email', 'gone@example.com', 'hard bounce');
    const skipped = await sendEmailNotification(herald, TEMPLATE, 'gone@example.com');
    expect(skipped).toMatchObject({ status: 'skipped', skipReason: 'suppressed' });
    expect(outboxStatus(skipped)).toBeNull();
    await expect(sendEmailNotification(herald, TEMPLATE, 'not an address')).rejects.toBeInstanceOf(ValidationError);
    await expect(sendEmailNotification(herald, TEMPLATE, 'a@example.com', { backend: 'nope' })).rejects.toThrow(/no govuk-notify-email backend named "nope"/);
    await herald.close();
    const bare = createHerald({ store: memoryStore(), backends: [], notifications: [govukNotifyEmailNotification], logger: false });
    await expect(sendEmailNotification(bare, TEMPLATE, 'a@example.com')).rejects.toBeInstanceOf(ConfigError);
    await bare.close();
  });

  it('sendSmsNotification: sendSms(templateId, phoneNumber, { personalisation, reference, smsSenderId })', async () => {
    const herald = heraldWith();
    const delivery = await sendSmsNotification(herald, SMS_TEMPLATE, '+447700900123', { personalisation: { code: '4821' }, reference: 'login-1' });
    await herald.drain();
    expect(notify.last().json).toEqual({ template_id: SMS_TEMPLATE, phone_number: '+447700900123', personalisation: { code: '4821' }, reference: delivery.id });
    expect((await herald.deliveries.get(delivery.id))!).toMatchObject({ status: 'sent', dedupeKey: 'login-1', backend: 'govuk-notify-sms' });
    await herald.close();
  });
});

describe('outboxStatus: the seed’s ten states', () => {
  const cases: [DeliveryStatus, string | null, number, OutboxStatus | null][] = [
    ['queued', null, 0, 'sending-to-notify'],
    ['sending', null, 1, 'sending-to-notify'],
    ['retrying', null, 1, 'retrying-send-to-notify'],
    ['sending', null, 2, 'retrying-send-to-notify'],
    ['failed', null, 3, 'failed-send-to-notify'],
    ['sent', null, 1, 'sent-to-notify'],
    ['sent', 'created', 1, 'notify-created'],
    ['sent', 'sending', 1, 'notify-sending'],
    ['deferred', 'pending', 1, 'notify-sending'],
    ['sent', 'sent', 1, 'notify-sending'],
    ['delivered', 'delivered', 1, 'notify-delivered'],
    ['bounced', 'permanent-failure', 1, 'notify-permanent-failure'],
    ['failed', 'temporary-failure', 1, 'notify-temporary-failure'],
    ['failed', 'technical-failure', 1, 'notify-technical-failure'],
    // A late poll answer does not take a settled delivery back.
    ['delivered', 'sending', 1, 'notify-delivered'],
    ['complained', 'delivered', 1, 'notify-delivered'],
    ['skipped', null, 0, null],
    ['cancelled', null, 0, null],
  ];
  it.each(cases)('%s + %s (attempt %d) → %s', (status, providerStatus, attempts, expected) => {
    expect(outboxStatus({ status, providerStatus, attempts } as Pick<Delivery, 'status' | 'providerStatus' | 'attempts'>)).toBe(expected);
  });
  it('covers all ten', () => {
    expect(new Set(cases.map((c) => c[3]).filter(Boolean)).size).toBe(10);
  });
});
