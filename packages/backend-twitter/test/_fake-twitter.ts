import { createHmac } from 'node:crypto';
import { Agent, createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TwitterApi } from 'twitter-api-v2';

export const CREDENTIALS = {
  appKey: 'app-key-QmF5c2lkZQ',
  appSecret: 'app-secret-7d1e0c9a44f2',
  accessToken: '12345-access-token-Zx81',
  accessSecret: 'access-secret-a90bb3e1',
};

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Parsed `Authorization: OAuth …` parameters. */
  oauth: Record<string, string>;
  /** True when `oauth_signature` is the HMAC-SHA1 of the request under the test credentials. */
  signatureValid: boolean;
}

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** RFC 3986 percent-encoding as OAuth 1.0a uses it. */
const pct = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function parseOAuth(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/(\w+)="([^"]*)"/g)) out[m[1]!] = decodeURIComponent(m[2]!);
  return out;
}

/** Verify the OAuth 1.0a signature, computed by the client over the real `https://api.x.com` URL. */
function verifySignature(method: string, path: string, oauth: Record<string, string>): boolean {
  const url = new URL(path, 'https://api.x.com');
  const params: [string, string][] = [...url.searchParams.entries()];
  for (const [k, v] of Object.entries(oauth)) if (k.startsWith('oauth_') && k !== 'oauth_signature') params.push([k, v]);
  const normalized = params
    .map(([k, v]) => [pct(k), pct(v)])
    .sort(([a, b], [c, d]) => (a! < c! ? -1 : a! > c! ? 1 : b! < d! ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const base = [method, pct(`${url.origin}${url.pathname}`), pct(normalized)].join('&');
  const key = `${pct(CREDENTIALS.appSecret)}&${pct(CREDENTIALS.accessSecret)}`;
  return createHmac('sha1', key).update(base).digest('base64') === oauth.oauth_signature;
}

/** Documented answers of the Twitter API v2 (bodies as the API sends them). */
export const ANSWERS = {
  duplicate: {
    status: 403,
    body: { detail: 'You are not allowed to create a Tweet with duplicate content.', type: 'about:blank', title: 'Forbidden', status: 403 },
  },
  unauthorized: { status: 401, body: { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' } },
  rateLimited: (resetEpochSeconds: number): Answer => ({
    status: 429,
    body: { title: 'Too Many Requests', detail: 'Too Many Requests', type: 'about:blank', status: 429 },
    headers: { 'x-rate-limit-limit': '200', 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(resetEpochSeconds) },
  }),
  unavailable: { status: 503, body: { title: 'Service Unavailable', detail: 'Service Unavailable', type: 'about:blank', status: 503 } },
  dmForbidden: {
    status: 403,
    body: { detail: 'You are not permitted to send Direct Messages to this user.', type: 'about:blank', title: 'Forbidden', status: 403 },
  },
  invalidRequest: {
    status: 400,
    body: {
      errors: [{ parameters: { text: [''] }, message: 'The `text` field is invalid.' }],
      title: 'Invalid Request',
      detail: 'One or more parameters to your request was invalid.',
      type: 'https://api.twitter.com/2/problems/invalid-request',
    },
  },
} satisfies Record<string, Answer | ((n: number) => Answer)>;

/**
 * A loopback server speaking the Twitter API v2 endpoints the backend uses: `POST /2/tweets` (refusing duplicate
 * text as Twitter does), `GET /2/users/by/username/:username`, `POST /2/dm_conversations/with/:id/messages`.
 */
export async function startFakeTwitter(users: Record<string, string> = { ada_lovelace: '2244994945', bob: '783214' }) {
  const requests: RecordedRequest[] = [];
  const queued: (Answer | ((req: RecordedRequest) => Answer))[] = [];
  const tweets = new Set<string>();
  let seq = 1_860_000_000_000_000_000n;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      const oauth = parseOAuth(req.headers.authorization);
      const recorded = { method: req.method ?? '', path, headers: req.headers, body, oauth, signatureValid: verifySignature(req.method ?? '', path, oauth) };
      requests.push(recorded);
      const reply = ({ status, body: payload, headers }: Answer) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-rate-limit-limit': '200', 'x-rate-limit-remaining': '199', ...headers });
        res.end(JSON.stringify(payload));
      };
      const next = queued.shift();
      if (next) return reply(typeof next === 'function' ? next(recorded) : next);
      const json = (): { text?: string } => {
        try {
          return JSON.parse(body) as { text?: string };
        } catch {
          return {};
        }
      };
      const lookup = /^\/2\/users\/by\/username\/([^/?]+)/.exec(path);
      const dm = /^\/2\/dm_conversations\/with\/([^/]+)\/messages$/.exec(path);
      if (req.method === 'POST' && path === '/2/tweets') {
        const text = json().text ?? '';
        if (tweets.has(text)) return reply(ANSWERS.duplicate);
        tweets.add(text);
        const id = String(seq++);
        return reply({ status: 201, body: { data: { id, text, edit_history_tweet_ids: [id] } } });
      }
      if (req.method === 'GET' && lookup) {
        const username = decodeURIComponent(lookup[1]!);
        const id = Object.entries(users).find(([u]) => u.toLowerCase() === username.toLowerCase())?.[1];
        if (id) return reply({ status: 200, body: { data: { id, name: username, username } } });
        return reply({
          status: 200,
          body: {
            errors: [
              {
                value: username,
                detail: `Could not find user with username: [${username}].`,
                title: 'Not Found Error',
                resource_type: 'user',
                parameter: 'username',
                resource_id: username,
                type: 'https://api.twitter.com/2/problems/resource-not-found',
              },
            ],
          },
        });
      }
      if (req.method === 'POST' && dm) {
        return reply({ status: 201, body: { data: { dm_conversation_id: `${dm[1]}-1`, dm_event_id: String(seq++) } } });
      }
      reply({ status: 404, body: { title: 'Not Found Error', detail: `no route ${req.method} ${path}`, type: 'about:blank', status: 404 } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    requests,
    /** Answer the next request with this (or what this makes of the request) instead of the route's answer. */
    answerNext(answer: Answer | ((req: RecordedRequest) => Answer)) {
      queued.push(answer);
    },
    /** Settings that point twitter-api-v2 (which always uses https) at this server. */
    clientSettings: {
      httpAgent: new Agent(),
      plugins: [
        {
          onBeforeRequest({ computedParams }: { computedParams: { url: URL } }) {
            computedParams.url.protocol = 'http:';
            computedParams.url.host = `127.0.0.1:${port}`;
          },
        },
      ],
    },
    client(): TwitterApi {
      return new TwitterApi(CREDENTIALS, this.clientSettings);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
