import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineBackend } from '../src/backend';
import { HeraldError, PermanentError, redact, RequiredNotificationError } from '../src/errors';
import { redactAddress, redactJson, secretsOf } from '../src/secrets';

const TOKEN = 'tok_5f2b9c1d7e+/=';
const SID = `AC${'0123456789abcdef'.repeat(2)}`;

/** Every form the issue names, computed independently of the redactor. */
function forms(secret: string | Buffer): string[] {
  const bytes = Buffer.from(secret);
  const text = bytes.toString('utf8');
  return [
    text,
    encodeURIComponent(text),
    bytes.toString('base64'),
    bytes.toString('base64').replace(/=+$/, ''),
    bytes.toString('base64url'),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
  ];
}

describe('secretsOf / redact', () => {
  it('redacts a secret raw, URL- and form-encoded, JSON-escaped, as base64, base64url and hex', () => {
    const secrets = secretsOf([TOKEN]);
    for (const form of [...forms(TOKEN), new URLSearchParams({ t: TOKEN }).toString().slice(2), JSON.stringify(`${TOKEN}"`).slice(1, -3)]) {
      expect(secrets.redact(`before ${form} after`)).toBe('before [redacted] after');
    }
  });

  // Regression: the base64 of AccountSid:authToken (Twilio's Authorization header) was kept when a provider echoed it.
  it('redacts a basic-auth pair whole, and a secret inside any base64 blob whatever its alignment', () => {
    const secrets = secretsOf([TOKEN], { basicAuth: [[SID, TOKEN]] });
    const header = `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`;
    expect(secrets.redact(`echo: ${header}`)).toBe('echo: Basic [redacted]');
    for (const prefix of ['x', 'xy', 'xyz', 'user:']) {
      const blob = Buffer.from(`${prefix}${TOKEN}!`).toString('base64');
      const out = redact(blob, [TOKEN]);
      expect(out).toContain('[redacted]');
      // What is left around the mask is at most the few characters that mix the secret with its neighbours.
      expect(out.replace('[redacted]', '').length).toBeLessThanOrEqual(Math.ceil(((prefix.length + 1) * 8) / 6) + 4);
    }
  });

  // Regression: json-webhook's whsec_ key was redacted as typed, not as the key it decodes to.
  it('redacts the decoded bytes of an encoded key as text, hex, base64 and base64url', () => {
    const key = Buffer.from('my webhook signing key');
    const secrets = secretsOf([`whsec_${key.toString('base64')}`], { keys: [key] });
    for (const form of [...forms(key), `whsec_${key.toString('base64')}`]) expect(secrets.redact(`[${form}]`)).toBe('[[redacted]]');
    const binary = Buffer.from([0xff, 0x00, 0xfe, 0x01, 0x80, 0x7f]);
    const b = secretsOf([], { keys: [binary] });
    for (const form of [binary.toString('hex'), binary.toString('base64'), binary.toString('base64url')]) expect(b.redact(form)).toBe('[redacted]');
  });

  it('skips empty and very short values; leaves other text alone', () => {
    const secrets = secretsOf([undefined, null, '', 'abc', TOKEN]);
    expect(secrets.secrets).toEqual([TOKEN]);
    expect(secrets.redact('abc and nothing secret')).toBe('abc and nothing secret');
  });

  it('learns the forms once: redact(text, backend.secrets) reuses the redactor the backend declared', () => {
    const make = defineBackend({
      name: 'acme',
      protocol: 'email',
      formats: ['text'],
      options: z.object({ sid: z.string(), token: z.string() }),
      secrets: (o) => secretsOf([o.token], { basicAuth: [[o.sid, o.token]] }),
      setup: (_o, context) => ({
        async send() {
          throw new PermanentError(context.secrets.redact(`refused ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`), { backend: 'acme' });
        },
      }),
    });
    const backend = make({ sid: SID, token: TOKEN });
    expect(backend.secrets).toContain(TOKEN);
    // The worker's call: the array alone carries the basic-auth form.
    expect(redact(`Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`, backend.secrets)).toBe('Basic [redacted]');
    // A flat copy (webhooks.ts joins every backend's list) still redacts every form.
    expect(redact(Buffer.from(`${SID}:${TOKEN}`).toString('base64'), [...backend.secrets])).toBe('[redacted]');
  });

  it('redactJson redacts every string and key of an answer and returns the value itself when nothing matched', () => {
    const answer = { echo: { authorization: `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`, [TOKEN]: [1, TOKEN] }, ok: false };
    const out = redactJson(answer, secretsOf([TOKEN], { basicAuth: [[SID, TOKEN]] }));
    expect(out).toEqual({ echo: { authorization: 'Basic [redacted]', '[redacted]': [1, '[redacted]'] }, ok: false });
    expect(Object.keys(out)).toEqual(['echo', 'ok']);
    expect(answer.echo[TOKEN]).toEqual([1, TOKEN]); // the answer itself is not modified
    const list = ['a', TOKEN, 'b'];
    expect(redactJson(list, [TOKEN])).toEqual(['a', '[redacted]', 'b']);
    const clean = { status: 400, body: 'bad request' };
    expect(redactJson(clean, [TOKEN])).toBe(clean);
    expect(redactJson(null, [TOKEN])).toBeNull();
  });
});

describe('credential-shaped text', () => {
  const hook = 'https://hooks.slack.com/services/T0001/B0001/abcdefSECRET1234';

  it('redactAddress masks a Slack webhook token and a URL password, nothing else', () => {
    expect(redactAddress(hook)).toBe('https://hooks.slack.com/services/T0001/B0001/[redacted]');
    expect(redactAddress('postgres://app:pw-123456@db:5432/x')).toBe('postgres://app:[redacted]@db:5432/x');
    expect(redactAddress('ada@example.org')).toBe('ada@example.org');
    expect(redactAddress('https://receiver.example.org/hooks/herald')).toBe('https://receiver.example.org/hooks/herald');
  });

  // Regression: a Slack webhook URL (its path is the credential) was printed whole in notify() errors.
  it('no Herald error message carries a webhook token, whoever built the message', () => {
    expect(new HeraldError('VALIDATION', `contact slack-webhook:${hook}: bad`).message).not.toContain('abcdefSECRET1234');
    const required = new RequiredNotificationError('n', [{ address: hook, protocol: 'slack-webhook', reason: 'suppressed' }]);
    expect(required.message).toContain('/services/T0001/B0001/[redacted]');
    expect(required.message).not.toContain('SECRET1234');
  });
});
