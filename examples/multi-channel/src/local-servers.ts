/**
 * The local stand-ins for every provider the example talks to. Each records what it received.
 * In production these are your mail relay, Twilio, Slack, your customers' webhook receivers, Twitter and an
 * XMPP server; here they run on 127.0.0.1 so the example needs no account and no network.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { verifyWebhook } from '@herald/backend-json-webhook';
import { client as xmppClient, xml } from '@xmpp/client';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** One line per message a server received, for the report. */
export type Inbox = string[];

/** A real SMTP server (smtp-server) that parses each message. */
export async function startSmtp(inbox: Inbox) {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const to = Array.isArray(mail.to) ? mail.to.map((a) => a.text).join(', ') : (mail.to?.text ?? '');
          inbox.push(`to ${to} — "${mail.subject}" — ${(mail.text ?? '').trim().replace(/\s+/g, ' ')}`);
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

type Handler = (req: IncomingMessage, body: string) => { status: number; body?: unknown; type?: string };

/** A loopback HTTP server answering with `handler`. */
export async function startHttp(handler: Handler) {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = handler(req, Buffer.concat(chunks).toString('utf8'));
      const text = typeof answer.body === 'string' ? answer.body : answer.body === undefined ? '' : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': answer.type ?? 'application/json' });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { port, origin: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Twilio's Messages.json endpoint (form POST, basic auth). */
export function twilioApi(inbox: Inbox): Handler {
  let n = 0;
  return (req, body) => {
    const form = new URLSearchParams(body);
    const auth = req.headers.authorization?.startsWith('Basic ') ? 'basic auth' : 'NO AUTH';
    inbox.push(`${req.method} ${req.url} (${auth}) To=${form.get('To')} From=${form.get('From')} Body="${form.get('Body')}"`);
    const sid = `SM${(++n).toString(16).padStart(32, '0')}`;
    return { status: 201, body: { sid, status: 'queued', to: form.get('To'), from: form.get('From'), body: form.get('Body'), num_segments: '1' } };
  };
}

/** A Slack incoming webhook: answers `ok` in plain text. */
export function slackWebhook(inbox: Inbox): Handler {
  return (req, body) => {
    inbox.push(`${req.method} ${req.url} ${body}`);
    return { status: 200, body: 'ok', type: 'text/plain' };
  };
}

/** A customer's JSON webhook receiver that checks the Standard Webhooks signature. */
export function jsonReceiver(inbox: Inbox, secret: string): Handler {
  return (req, body) => {
    const verified = verifyWebhook({ secret, headers: req.headers, body });
    inbox.push(`${req.method} ${req.url} signature ${verified.ok ? 'valid' : `INVALID (${verified.reason})`} ${body}`);
    return verified.ok ? { status: 204 } : { status: 401, body: { error: 'bad signature' } };
  };
}

/** The Twitter API v2 endpoints the backend uses: posts, user lookup, direct messages. */
export function twitterApi(inbox: Inbox, users: Record<string, string>): Handler {
  let id = 1_860_000_000_000_000_000n;
  return (req, body) => {
    const path = req.url ?? '';
    const signed = /^OAuth .*oauth_signature=/.test(req.headers.authorization ?? '') ? 'OAuth 1.0a' : 'UNSIGNED';
    const lookup = /^\/2\/users\/by\/username\/([^/?]+)/.exec(path);
    if (req.method === 'GET' && lookup) {
      const username = decodeURIComponent(lookup[1]!);
      const found = users[username.toLowerCase()];
      return found
        ? { status: 200, body: { data: { id: found, name: username, username } } }
        : { status: 200, body: { errors: [{ title: 'Not Found Error', detail: `Could not find user with username: [${username}].`, type: 'https://api.twitter.com/2/problems/resource-not-found' }] } };
    }
    inbox.push(`${req.method} ${path} (${signed}) ${body}`);
    const next = String(id++);
    if (path === '/2/tweets') return { status: 201, body: { data: { id: next, text: (JSON.parse(body) as { text: string }).text, edit_history_tweet_ids: [next] } } };
    return { status: 201, body: { data: { dm_conversation_id: `${next}-conv`, dm_event_id: next } } };
  };
}

const PROSODY_SCRIPT = fileURLToPath(new URL('../../../scripts/prosody.sh', import.meta.url));

/**
 * A private prosody through scripts/prosody.sh, when prosody is installed (the example never installs it).
 * Plain text on loopback: @xmpp/client then logs in with SCRAM-SHA-1 (about a second per login).
 */
export async function startProsody(inbox: Inbox) {
  if (spawnSync('sh', ['-c', 'command -v prosody && command -v prosodyctl'], { stdio: 'ignore' }).status !== 0) return null;
  const out = execFileSync('bash', [PROSODY_SCRIPT, 'start'], {
    encoding: 'utf8',
    env: { ...process.env, PROSODY_NO_INSTALL: '1', PROSODY_TLS: '0', PROSODY_WATCH_PID: String(process.pid) },
  });
  const env = Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const stop = () => execFileSync('bash', [PROSODY_SCRIPT, 'stop', env.PROSODY_DIR!], { stdio: 'ignore' });
  try {
    // Bob's own client: what it receives is what the XMPP server delivered.
    const bob = xmppClient({ service: env.PROSODY_SERVICE, domain: 'localhost', username: 'bob', password: env.XMPP_BOB_PASSWORD, resource: 'phone' });
    bob.reconnect.stop();
    bob.on('error', () => undefined);
    bob.on('stanza', (s) => {
      if (s.is('message') && s.attrs.type === 'chat') inbox.push(`${s.attrs.from} → ${s.attrs.to}: ${s.getChildText('body')}`);
    });
    await bob.start();
    await bob.send(xml('presence'));
    await bob.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    return {
      service: env.PROSODY_SERVICE!,
      alice: { username: 'alice', password: env.XMPP_ALICE_PASSWORD! },
      async close() {
        await bob.stop().catch(() => undefined);
        stop();
      },
    };
  } catch (error) {
    stop();
    throw error;
  }
}
