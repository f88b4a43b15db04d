import { createServer } from 'node:net';
import type { OutboundMessage } from '@herald/core';
import { type ReceivedMessage, testBackend } from '@herald/core/testing/vitest';
import { govukNotifyEmail, govukNotifySms } from '../src';
import { FAKE_TEMPLATES, type FakeNotify, type FakeNotifyRequest, notifyError, startFakeNotify } from '../src/testing';

/** A URL on a port nothing listens on. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A POST to the fake Notify as the suite reads it: recipient, personalisation as raw text, files as attachments. */
function view(request: FakeNotifyRequest): ReceivedMessage {
  const json = request.json as { email_address?: string; phone_number?: string; personalisation?: Record<string, unknown> };
  const files = Object.values(json.personalisation ?? {}).filter(
    (v): v is { file: string; filename: string | null } => typeof v === 'object' && v !== null && 'file' in v,
  );
  return {
    raw: `${JSON.stringify(request.headers)}\n${request.body}`,
    to: [json.email_address ?? json.phone_number ?? ''],
    attachments: files.map((f) => ({ filename: f.filename ?? '', content: Buffer.from(f.file, 'base64') })),
  };
}

/** Every message the suite builds is sent as a Notify template: params with the fake's template id. */
const asTemplate = (templateId: string) => (m: OutboundMessage): OutboundMessage =>
  m.content.format === 'params'
    ? { ...m, content: { ...m.content, params: { templateId, ...m.content.params } } }
    : { ...m, content: { format: 'params', params: { templateId, text: m.content.text ?? '' } } };

const SERVICE_ID = '26785a09-ab16-4eb0-8407-a37497a57506';
const SECRET = '3d844edf-8d35-48ac-975b-e847b4f122b0';
const API_KEY = `herald_conformance-${SERVICE_ID}-${SECRET}`;

for (const protocol of ['email', 'sms'] as const) {
  let notify: FakeNotify;
  const callbackToken = 'callback-token-0123456789';
  testBackend({
    name: `govuk-notify-${protocol}`,
    async start() {
      notify = await startFakeNotify({ serviceId: SERVICE_ID, keys: [{ name: 'herald_conformance', secret: SECRET }] });
    },
    stop: () => notify.close(),
    create: (o) =>
      protocol === 'email'
        ? govukNotifyEmail({ apiKey: API_KEY, baseUrl: notify.url, callbackToken, ...o })
        : govukNotifySms({ apiKey: API_KEY, baseUrl: notify.url, callbackToken, ...o }),
    async createUnreachable() {
      const baseUrl = await closedPortUrl();
      return protocol === 'email' ? govukNotifyEmail({ apiKey: API_KEY, baseUrl }) : govukNotifySms({ apiKey: API_KEY, baseUrl });
    },
    address: protocol === 'email' ? 'ada@example.org' : '+447700900123',
    message: asTemplate(protocol === 'email' ? FAKE_TEMPLATES.email : FAKE_TEMPLATES.sms),
    templates: { params: { format: 'params', body: { text: 'Hello {{name}}, your code is {{code}}.' } } },
    failNext: (kind) => {
      const { status, body } =
        kind === 'transient' ? notifyError(500, 'Exception', 'Internal server error') : notifyError(400, 'BadRequestError', 'Template not found');
      notify.answerNext(status, body);
    },
    received: () => notify.requests.filter((r) => r.method === 'POST').map(view),
    leakNext: () => notify.echoSecretNext(),
    secrets: [API_KEY, SECRET, callbackToken],
  });
}
