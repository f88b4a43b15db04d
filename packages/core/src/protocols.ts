import { z } from 'zod';

/** The channels Herald knows. All backends of one protocol accept the same address form. */
export const PROTOCOLS = ['email', 'sms', 'slack-webhook', 'json-webhook', 'xmpp', 'twitter'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

// addr-spec: dot-atom local part (or quoted string) @ domain with at least one dot or a bracketed IP literal.
const LOCAL = String.raw`(?:[A-Za-z0-9!#$%&'*+/=?^_\`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_\`{|}~-]+)*|"(?:[^"\\\r\n]|\\.)*")`;
const DOMAIN = String.raw`(?:(?:[A-Za-z0-9\u00a1-\uffff](?:[A-Za-z0-9\u00a1-\uffff-]{0,61}[A-Za-z0-9\u00a1-\uffff])?\.)+[A-Za-z\u00a1-\uffff][A-Za-z0-9\u00a1-\uffff-]{0,62}|\[[0-9.:A-Fa-f]+\]|localhost)`;
const ADDR_SPEC = new RegExp(`^${LOCAL}@${DOMAIN}$`);
// Display name: a quoted string (RFC 5322, `\"` and `\\` quoted-pairs: a rendered `from` quotes data that way) or bare words.
const MAILBOX = /^\s*(?:"((?:[^"\\\r\n]|\\.)*)"|([^"<>]*?))\s*<([^<>]+)>\s*$/;

/** Split `"Name" <a@b.c>` or `a@b.c` into display name and addr-spec. */
export function parseMailbox(value: string): { name?: string; address: string } | null {
  const trimmed = value.trim();
  const m = MAILBOX.exec(trimmed);
  const address = (m ? m[3]! : trimmed).trim();
  if (address.length > 254 || !ADDR_SPEC.test(address)) return null;
  const name = (m?.[1] === undefined ? m?.[2] : m[1].replace(/\\(.)/g, '$1'))?.trim();
  return name ? { name, address } : { address };
}

const JID = /^(?:[^"&'/:<>@\s]{1,1023}@)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?:\/.{1,1023})?$/;

function httpUrl(schemes: readonly string[]) {
  return z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return schemes.includes(u.protocol) && u.hostname.length > 0;
      } catch {
        return false;
      }
    },
    { message: `must be an absolute ${schemes.map((s) => s.replace(':', '')).join(' or ')} URL` },
  );
}

/** zod schema of each protocol's address. */
export const addressSchemas: Record<Protocol, z.ZodType<string, string>> = {
  email: z.string().refine((v) => parseMailbox(v) !== null, {
    message: 'must be an email address such as "ada@example.org" or "Ada <ada@example.org>"',
  }),
  sms: z.string().regex(/^\+[1-9]\d{6,14}$/, { message: 'must be an E.164 phone number such as "+14155550123"' }),
  'slack-webhook': httpUrl(['https:', 'http:']),
  'json-webhook': httpUrl(['https:', 'http:']),
  xmpp: z.string().refine((v) => JID.test(v) && v.includes('@') && !v.startsWith('@') && v.split('@')[1]!.split('/')[0]!.length > 0, {
    message: 'must be a JID with a domain, such as "ada@chat.example.org"',
  }),
  twitter: z.string().regex(/^(?:@?[A-Za-z0-9_]{1,15})?$/, {
    message: 'must be a handle of 1 to 15 letters, digits or underscores ("@" optional), or empty for a timeline post',
  }),
};

export function isProtocol(value: unknown): value is Protocol {
  return typeof value === 'string' && (PROTOCOLS as readonly string[]).includes(value);
}

/** Normalize an address for comparisons (dedupe, suppression): lower-case emails, strip `@` from handles. */
export function normalizeAddress(protocol: Protocol, address: string): string {
  switch (protocol) {
    case 'email':
      // Bare addresses (the common case) skip the mailbox parser.
      return (address.includes('<') ? (parseMailbox(address)?.address ?? address) : address.trim()).toLowerCase();
    case 'twitter':
      return address.replace(/^@/, '').toLowerCase();
    case 'xmpp':
      return address.toLowerCase();
    default:
      return address.trim();
  }
}

/** RFC 2606 / 6761 reserved names: the TLDs `test`, `example`, `invalid`, `localhost` and `example.com/net/org`. */
const RESERVED_HOST = /(?:^|\.)(?:test|example|invalid|localhost|example\.(?:com|net|org))\.?$/i;

function isReservedHost(host: string): boolean {
  return RESERVED_HOST.test(host);
}

/**
 * True for addresses in the reserved test domains of RFC 2606 / RFC 6761 (`.test`, `.example`,
 * `.invalid`, `.localhost`, `example.com/net/org`). They only ever reach test backends.
 */
export function isTestAddress(protocol: Protocol, address: string): boolean {
  switch (protocol) {
    case 'email': {
      const a = address.includes('<') ? (parseMailbox(address)?.address ?? address) : address.trim();
      return isReservedHost(a.slice(a.lastIndexOf('@') + 1));
    }
    case 'xmpp':
      return isReservedHost(address.split('@')[1]?.split('/')[0] ?? '');
    case 'slack-webhook':
    case 'json-webhook':
      try {
        return isReservedHost(new URL(address).hostname);
      } catch {
        return false;
      }
    default:
      return false;
  }
}
