import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback GOV.UK Notify for tests and examples: the `/v2/notifications/{email,sms}` and `/v2/notifications/{id}`
 * endpoints as Notify documents them, the API-key JWT checked the way Notify checks it (notifications-api
 * `app/authentication/auth.py` with notifications-python-client's `decode_jwt_token`), Notify's error bodies
 * (`{ errors: [{ error, message }], status_code }`), and delivery receipts posted with a bearer token.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Notify's iat bound, in seconds, both ways (notifications-python-client `__bound__`). */
const CLOCK_BOUND_S = 30;
const GENERAL_TOKEN_ERROR =
  'Invalid token: make sure your API token matches the example at https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header';
/** The statuses after which Notify sends a delivery receipt. */
const RECEIPT_STATUSES = new Set(['delivered', 'permanent-failure', 'temporary-failure', 'technical-failure', 'sent']);

/** A template of the fake service: `((placeholder))` in `subject` and `body` must be personalised. */
export interface FakeTemplate {
  id: string;
  type: 'email' | 'sms';
  name?: string;
  subject?: string;
  body: string;
  version?: number;
}

/** An API key of the fake service. Notify shows it as `{name}-{service id}-{secret}`. */
export interface FakeApiKey {
  name: string;
  secret: string;
  /** `team`: only to `guestList` addresses (Notify's team-and-guest-list keys). @default 'normal' */
  type?: 'normal' | 'team';
  revoked?: boolean;
}

export interface FakeNotifyOptions {
  serviceId?: string;
  /** @default one live key named `herald_test` */
  keys?: FakeApiKey[];
  /** @default {@link FAKE_TEMPLATES}' email and SMS templates, each with one `((text))` placeholder */
  templates?: FakeTemplate[];
  /** Addresses a team key may send to. */
  guestList?: string[];
  /** Reply-to address ids (`email_reply_to_id`) and text message sender ids (`sms_sender_id`) of the service. */
  emailReplyToIds?: string[];
  smsSenderIds?: string[];
  /** Where delivery receipts go when a status is set to a final one (Notify's "callbacks for delivery receipts"). */
  callback?: { url: string; bearerToken: string };
}

/** What the fake received, with the JWT it verified. */
export interface FakeNotifyRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
  /** The verified token's claims and the key that signed it; null when authentication failed. */
  auth: { iss: string; iat: number; key: string; header: Record<string, unknown> } | null;
  /** The status the fake answered. */
  status: number;
  /** When it arrived. */
  at: Date;
}

/** A notification the fake accepted. */
export interface FakeNotification {
  id: string;
  type: 'email' | 'sms';
  to: string;
  reference: string | null;
  status: string;
  template: FakeTemplate;
  personalisation: Record<string, unknown>;
  body: string;
  subject: string | null;
  emailReplyToId: string | null;
  smsSenderId: string | null;
  oneClickUnsubscribeUrl: string | null;
  createdAt: Date;
  sentAt: Date | null;
  completedAt: Date | null;
}

/** A file sent by email through `prepareUpload`, as the fake's document store kept it. */
export interface FakeUpload {
  notificationId: string;
  key: string;
  filename: string | null;
  content: Buffer;
  confirmEmailBeforeDownload: boolean | null;
  retentionPeriod: string | null;
}

type Scripted = { status: number; body: unknown; headers?: Record<string, string>; path?: string } | 'echo-secret';

/** Template ids of the default templates. */
export const FAKE_TEMPLATES = {
  email: 'f33517ff-2a88-4f6e-b855-c550268ce08a',
  sms: '4b3c1a9e-7d65-4e4f-9a51-7a5b1a2c8d10',
} as const;

/** Notify's v2 error body. */
export function notifyError(status: number, error: string, message: string): { status: number; body: unknown } {
  return { status, body: { errors: [{ error, message }], status_code: status } };
}

const isoMicros = (d: Date | null) => (d ? d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') : null);
const b64url = (value: string) => Buffer.from(value, 'base64url').toString('utf8');

/** Title-case as Python's `str.title()` does for the scheme check (`bearer ` → `Bearer `). */
const title = (s: string) => s.toLowerCase().replace(/(^|[^a-z])([a-z])/g, (_, a: string, b: string) => a + b.toUpperCase());

/**
 * Start the fake on 127.0.0.1, port 0. `apiKey` is a valid key for it; point the backend's `baseUrl` at `url`.
 *
 * @example
 * ```ts
 * import { govukNotifyEmail } from '@herald/backend-govuk-notify';
 * import { FAKE_TEMPLATES, startFakeNotify } from '@herald/backend-govuk-notify/testing';
 *
 * const notify = await startFakeNotify();
 * const backend = govukNotifyEmail({ apiKey: notify.apiKey, baseUrl: notify.url, templateId: FAKE_TEMPLATES.email });
 * // … send, then: notify.notifications, await notify.setStatus(id, 'delivered')
 * await notify.close();
 * ```
 */
export async function startFakeNotify(options: FakeNotifyOptions = {}) {
  const serviceId = options.serviceId ?? randomUUID();
  const keys: FakeApiKey[] = options.keys ?? [{ name: 'herald_test', secret: randomUUID() }];
  const templates = new Map<string, FakeTemplate>(
    (
      options.templates ?? [
        { id: FAKE_TEMPLATES.email, type: 'email', name: 'Herald email', subject: 'Message from Herald', body: '((text))' },
        { id: FAKE_TEMPLATES.sms, type: 'sms', name: 'Herald text message', body: '((text))' },
      ]
    ).map((t) => [t.id, t]),
  );
  const guestList = new Set((options.guestList ?? []).map((a) => a.toLowerCase()));
  const replyTos = new Set(options.emailReplyToIds ?? []);
  const senders = new Set(options.smsSenderIds ?? []);
  const requests: FakeNotifyRequest[] = [];
  const notifications = new Map<string, FakeNotification>();
  const uploads: FakeUpload[] = [];
  const script: Scripted[] = [];
  let callback = options.callback ?? null;
  let origin = '';

  function authenticate(header: string | undefined): { key: FakeApiKey; claims: { iss: string; iat: number }; header: Record<string, unknown> } | { status: number; body: unknown } {
    if (!header) return notifyError(401, 'AuthError', 'Unauthorized: authentication token must be provided');
    if (title(header.slice(0, 7)) !== 'Bearer ') return notifyError(401, 'AuthError', 'Unauthorized: authentication bearer scheme must be used');
    const token = header.slice(7);
    const parts = token.split('.');
    let head: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      if (parts.length !== 3) throw new Error('not three segments');
      head = JSON.parse(b64url(parts[0]!)) as Record<string, unknown>;
      claims = JSON.parse(b64url(parts[1]!)) as Record<string, unknown>;
    } catch {
      return notifyError(403, 'AuthError', GENERAL_TOKEN_ERROR);
    }
    if (!('iss' in claims)) return notifyError(403, 'AuthError', 'Invalid token: iss field not provided');
    const iss = String(claims.iss);
    if (!UUID.test(iss)) return notifyError(403, 'AuthError', 'Invalid token: service id is not the right data type');
    if (iss.toLowerCase() !== serviceId.toLowerCase()) return notifyError(403, 'AuthError', 'Invalid token: service not found');
    for (const key of keys) {
      if (head.alg !== 'HS256') return notifyError(403, 'AuthError', 'Invalid token: algorithm used is not HS256');
      const expected = createHmac('sha256', key.secret).update(`${parts[0]}.${parts[1]}`).digest();
      const given = Buffer.from(parts[2]!, 'base64url');
      // Not signed with this key: Notify tries the service's next one.
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) continue;
      if (typeof claims.iat !== 'number') continue;
      const now = Math.floor(Date.now() / 1000);
      if (now > claims.iat + CLOCK_BOUND_S || claims.iat > now + CLOCK_BOUND_S) {
        return notifyError(403, 'AuthError', 'Error: Your system clock must be accurate to within 30 seconds');
      }
      if (key.revoked) return notifyError(403, 'AuthError', 'Invalid token: API key revoked');
      return { key, claims: { iss, iat: claims.iat }, header: head };
    }
    return notifyError(403, 'AuthError', 'Invalid token: API key not found');
  }

  function render(source: string, personalisation: Record<string, unknown>, missing: Set<string>): string {
    return source.replace(/\(\(([^()]+)\)\)/g, (_, name: string) => {
      const key = Object.keys(personalisation).find((k) => k.toLowerCase() === name.trim().toLowerCase());
      if (key === undefined) {
        missing.add(name.trim());
        return '';
      }
      const value = personalisation[key];
      return Array.isArray(value) ? value.map((v) => `\n* ${String(v)}`).join('') : String(value);
    });
  }

  /** Validate and accept a POST /v2/notifications/{type}, as notifications-api's post_notification does. */
  function post(type: 'email' | 'sms', json: Record<string, unknown>, key: FakeApiKey): { status: number; body: unknown } {
    const recipientField = type === 'email' ? 'email_address' : 'phone_number';
    const allowed = ['reference', recipientField, 'template_id', 'personalisation', 'scheduled_for', ...(type === 'email' ? ['email_reply_to_id', 'one_click_unsubscribe_url', 'sanitise_content_for'] : ['sms_sender_id'])];
    const errors: string[] = [];
    for (const field of [recipientField, 'template_id']) if (!(field in json)) errors.push(`${field} is a required property`);
    const extra = Object.keys(json).filter((k) => !allowed.includes(k));
    if (extra.length) errors.push(`Additional properties are not allowed (${extra.join(', ')} ${extra.length === 1 ? 'was' : 'were'} unexpected)`);
    if ('template_id' in json && !UUID.test(String(json.template_id))) errors.push('template_id is not a valid UUID');
    for (const field of ['email_reply_to_id', 'sms_sender_id']) if (field in json && !UUID.test(String(json[field]))) errors.push(`${field} is not a valid UUID`);
    if ('reference' in json && (typeof json.reference !== 'string' || json.reference.length > 1000)) errors.push('reference is not a string of at most 1000 characters');
    if ('personalisation' in json && (typeof json.personalisation !== 'object' || json.personalisation === null || Array.isArray(json.personalisation))) {
      errors.push('personalisation is not of type object');
    }
    if ('one_click_unsubscribe_url' in json && !/^https:\/\/\S+$/.test(String(json.one_click_unsubscribe_url))) errors.push('one_click_unsubscribe_url is not a valid https url');
    const to = String(json[recipientField] ?? '');
    if (recipientField in json) {
      if (type === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(to)) errors.push('email_address Not a valid email address');
      if (type === 'sms' && !/^\+?[0-9 ()-]{7,20}$/.test(to)) errors.push('phone_number Not a UK mobile number');
    }
    if (errors.length) return { status: 400, body: { errors: errors.map((message) => ({ error: 'ValidationError', message })), status_code: 400 } };

    if (key.type === 'team' && !guestList.has(to.toLowerCase())) return notifyError(400, 'BadRequestError', 'Can’t send to this recipient using a team-only API key');
    const template = templates.get(String(json.template_id));
    if (!template) return notifyError(400, 'BadRequestError', 'Template not found');
    if (template.type !== type) return notifyError(400, 'BadRequestError', `${template.type} template is not suitable for ${type} notification`);
    const personalisation = { ...((json.personalisation as Record<string, unknown> | undefined) ?? {}) };
    const missing = new Set<string>();
    const id = randomUUID();
    const files: FakeUpload[] = [];
    for (const [name, value] of Object.entries(personalisation)) {
      if (typeof value !== 'object' || value === null || Array.isArray(value) || !('file' in value)) continue;
      if (type !== 'email') return notifyError(400, 'BadRequestError', 'Can only send a file by email');
      const file = value as { file: unknown; filename?: unknown; confirm_email_before_download?: unknown; retention_period?: unknown };
      if (file.filename !== undefined && file.filename !== null && !String(file.filename).includes('.')) {
        return notifyError(400, 'ValidationError', '`filename` must end with a file extension. For example, filename.csv');
      }
      const period = file.retention_period;
      if (period !== undefined && period !== null) {
        const m = /^(\d+) weeks?$/.exec(String(period).trim().toLowerCase());
        if (!m || Number(m[1]) < 1 || Number(m[1]) > 78) {
          return notifyError(400, 'ValidationError', `Unsupported value for retention_period: ${String(period)}. Supported periods are from 1 to 78 weeks.`);
        }
      }
      const confirm = file.confirm_email_before_download;
      if (confirm !== undefined && confirm !== null && typeof confirm !== 'boolean') {
        return notifyError(400, 'ValidationError', `Unsupported value for confirm_email_before_download: ${String(confirm)}. Use a boolean true or false value.`);
      }
      if (typeof file.file !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(file.file)) return notifyError(400, 'BadRequestError', 'File is not valid base64');
      files.push({
        notificationId: id,
        key: name,
        filename: typeof file.filename === 'string' ? file.filename : null,
        content: Buffer.from(file.file, 'base64'),
        confirmEmailBeforeDownload: typeof confirm === 'boolean' ? confirm : null,
        retentionPeriod: typeof period === 'string' ? period : null,
      });
      personalisation[name] = `https://documents.service.gov.uk/d/${serviceId}/${randomUUID()}?key=fake`;
    }
    const body = render(template.body, personalisation, missing);
    const subject = template.type === 'email' ? render(template.subject ?? '', personalisation, missing) : null;
    if (missing.size) return notifyError(400, 'BadRequestError', `Missing personalisation: ${[...missing].join(', ')}`);
    const replyTo = typeof json.email_reply_to_id === 'string' ? json.email_reply_to_id : null;
    if (replyTo && !replyTos.has(replyTo)) return notifyError(400, 'BadRequestError', `email_reply_to_id ${replyTo} does not exist in database for service id ${serviceId}`);
    const sender = typeof json.sms_sender_id === 'string' ? json.sms_sender_id : null;
    if (sender && !senders.has(sender)) return notifyError(400, 'BadRequestError', `sms_sender_id ${sender} does not exist in database for service id ${serviceId}`);
    uploads.push(...files);
    const notification: FakeNotification = {
      id,
      type,
      to,
      reference: typeof json.reference === 'string' ? json.reference : null,
      status: 'created',
      template,
      personalisation,
      body,
      subject,
      emailReplyToId: replyTo,
      smsSenderId: sender,
      oneClickUnsubscribeUrl: typeof json.one_click_unsubscribe_url === 'string' ? json.one_click_unsubscribe_url : null,
      createdAt: new Date(),
      sentAt: null,
      completedAt: null,
    };
    notifications.set(id, notification);
    const templateRef = { id: template.id, version: template.version ?? 1, uri: `${origin}/services/${serviceId}/templates/${template.id}` };
    const content =
      type === 'email'
        ? { from_email: 'herald.test@notifications.service.gov.uk', body, subject, one_click_unsubscribe_url: notification.oneClickUnsubscribeUrl }
        : { from_number: 'GOVUK', body };
    return { status: 201, body: { id, reference: notification.reference, uri: `${origin}/v2/notifications/${id}`, template: templateRef, scheduled_for: null, content } };
  }

  /** A notification as `GET /v2/notifications/{id}` serializes it (notifications-api `Notification.serialize`). */
  function serialize(n: FakeNotification): Record<string, unknown> {
    return {
      id: n.id,
      reference: n.reference,
      email_address: n.type === 'email' ? n.to : null,
      phone_number: n.type === 'sms' ? n.to : null,
      line_1: null,
      line_2: null,
      line_3: null,
      line_4: null,
      line_5: null,
      line_6: null,
      postcode: null,
      type: n.type,
      status: n.status,
      template: { version: n.template.version ?? 1, id: n.template.id, uri: `${origin}/services/${serviceId}/templates/${n.template.id}` },
      body: n.body,
      subject: n.subject,
      created_at: isoMicros(n.createdAt),
      created_by_name: null,
      sent_at: isoMicros(n.sentAt),
      completed_at: isoMicros(n.completedAt),
      scheduled_for: null,
      postage: null,
      one_click_unsubscribe_url: n.oneClickUnsubscribeUrl,
      cost_details: {},
      cost_in_pounds: 0,
      is_cost_data_ready: true,
    };
  }

  /** The JSON Notify posts to a service's delivery-receipt callback (service_callback_tasks.send_delivery_status_to_service). */
  function receipt(n: FakeNotification): Record<string, unknown> {
    return {
      id: n.id,
      reference: n.reference,
      to: n.to,
      status: n.status,
      created_at: isoMicros(n.createdAt),
      completed_at: isoMicros(n.completedAt),
      sent_at: isoMicros(n.sentAt),
      notification_type: n.type,
      template_id: n.template.id,
      template_version: n.template.version ?? 1,
    };
  }

  function answer(method: string, path: string, json: Record<string, unknown>, key: FakeApiKey): { status: number; body: unknown } {
    if (method === 'POST' && (path === '/v2/notifications/email' || path === '/v2/notifications/sms')) return post(path.endsWith('email') ? 'email' : 'sms', json, key);
    const get = /^\/v2\/notifications\/([^/?]+)$/.exec(path);
    if (method === 'GET' && get) {
      const id = decodeURIComponent(get[1]!);
      if (!UUID.test(id)) return notifyError(400, 'ValidationError', 'notification_id is not a valid UUID');
      const n = notifications.get(id);
      return n ? { status: 200, body: serialize(n) } : notifyError(404, 'NoResultFound', 'No result found');
    }
    return notifyError(404, 'NotFound', 'The requested URL was not found on the server.');
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> = {};
      try {
        json = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      } catch {
        // kept as text; Notify answers a non-JSON body with a validation error below
      }
      const path = (req.url ?? '/').split('?')[0]!;
      const auth = authenticate(req.headers.authorization);
      const recorded: FakeNotifyRequest = { method: req.method ?? '', path, headers: req.headers, body, json, auth: null, status: 0, at: new Date() };
      requests.push(recorded);
      let reply: { status: number; body: unknown; headers?: Record<string, string> };
      if ('status' in auth) reply = auth;
      else {
        recorded.auth = { iss: auth.claims.iss, iat: auth.claims.iat, key: auth.key.name, header: auth.header };
        const at = script.findIndex((s) => s === 'echo-secret' || s.path === undefined || s.path === path);
        const next = at < 0 ? undefined : script.splice(at, 1)[0];
        if (next === 'echo-secret') {
          // A misbehaving proxy quoting the credentials back: the backend must redact every form of them.
          const secret = auth.key.secret;
          const quoted = `${secret} ${Buffer.from(secret).toString('base64')} ${Buffer.from(secret).toString('hex')} ${encodeURIComponent(secret)}`;
          reply = notifyError(403, 'AuthError', `Invalid token: key ${quoted} (${req.headers.authorization})`);
        } else reply = next ? { status: next.status, body: next.body, ...(next.headers ? { headers: next.headers } : {}) } : answer(recorded.method, path, json, auth.key);
      }
      recorded.status = reply.status;
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  const first = keys[0]!;

  return {
    /** Base URL to give the backend (`baseUrl`). */
    url: origin,
    serviceId,
    /** A valid API key of the first configured key, as Notify shows it: `{name}-{service id}-{secret}`. */
    apiKey: `${first.name}-${serviceId}-${first.secret}`,
    /** The API key of a configured key by name. */
    keyOf: (name: string) => {
      const key = keys.find((k) => k.name === name);
      if (!key) throw new Error(`no fake key named ${name}`);
      return `${key.name}-${serviceId}-${key.secret}`;
    },
    requests,
    notifications,
    uploads,
    templates,
    /** The last request received. */
    last: (): FakeNotifyRequest => {
      const r = requests.at(-1);
      if (!r) throw new Error('the fake Notify received no request');
      return r;
    },
    /**
     * Answer the next authenticated request (to `path`, when given) with this status and body instead (Notify's error
     * body: {@link notifyError}).
     */
    answerNext: (status: number, body: unknown, headers?: Record<string, string>, path?: string) => {
      script.push({ status, body, ...(headers ? { headers } : {}), ...(path ? { path } : {}) });
    },
    /** Answer the next authenticated request with an error quoting the key's secret in several encodings. */
    echoSecretNext: () => {
      script.push('echo-secret');
    },
    /** Set where delivery receipts go (or stop sending them). */
    setCallback: (value: { url: string; bearerToken: string } | null) => {
      callback = value;
    },
    /** The delivery receipt Notify would post for this notification now. */
    receipt: (id: string) => {
      const n = notifications.get(id);
      if (!n) throw new Error(`no fake notification ${id}`);
      return receipt(n);
    },
    /**
     * Move a notification to `status` (created, sending, pending, sent, delivered, permanent-failure,
     * temporary-failure, technical-failure). On a final status with a callback configured, post its delivery
     * receipt as Notify does and return the answer.
     */
    async setStatus(id: string, status: string): Promise<Response | null> {
      const n = notifications.get(id);
      if (!n) throw new Error(`no fake notification ${id}`);
      n.status = status;
      if (status !== 'created' && !n.sentAt) n.sentAt = new Date();
      if (RECEIPT_STATUSES.has(status) && status !== 'sending') n.completedAt = new Date();
      if (!callback || !RECEIPT_STATUSES.has(status)) return null;
      return fetch(callback.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${callback.bearerToken}` },
        body: JSON.stringify(receipt(n)),
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The running fake (see {@link startFakeNotify}). */
export type FakeNotify = Awaited<ReturnType<typeof startFakeNotify>>;
