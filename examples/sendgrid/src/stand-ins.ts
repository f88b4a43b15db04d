// Loopback stand-ins for the two things SendGrid does in this example, so nothing leaves the machine: its v3 mail
// send API (POST /v3/mail/send → 202 + X-Message-Id) and its signing of webhook posts (ECDSA P-256 key pair).
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SentMail {
  messageId: string;
  body: { personalizations: { to: { email: string }[] }[]; template_id?: string; subject?: string; custom_args?: Record<string, string> };
}

/** The v3 mail send endpoint: checks the bearer key, records each message, answers 202 with an X-Message-Id. */
export async function startSendgridApi(apiKey: string) {
  const sent: SentMail[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v3/mail/send' || req.headers.authorization !== `Bearer ${apiKey}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ field: null, message: 'The provided authorization grant is invalid, expired, or revoked', help: null }] }));
        return;
      }
      const messageId = randomBytes(16).toString('base64url').slice(0, 22);
      sent.push({ messageId, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as SentMail['body'] });
      res.writeHead(202, { 'x-message-id': messageId });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * SendGrid's side of the Signed Event Webhook: a P-256 key pair whose public half is what SendGrid's settings page
 * shows (base64 DER), and the two headers it adds to a post — ECDSA SHA-256 over the timestamp then the raw body.
 */
export function sendgridSigner() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    headers(body: Uint8Array, timestamp = String(Math.floor(Date.now() / 1000))): Record<string, string> {
      const signature = sign('sha256', Buffer.concat([Buffer.from(timestamp), body]), { key: privateKey, dsaEncoding: 'der' });
      return { 'x-twilio-email-event-webhook-signature': signature.toString('base64'), 'x-twilio-email-event-webhook-timestamp': timestamp };
    },
  };
}
