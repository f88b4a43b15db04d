import type { Backend } from './types';
import type { SiteContact } from './api';
import type { ValidationIssue } from './errors';
import type { Contact, Notification, Recipient } from './notification';
import { addressSchemas, isProtocol, normalizeAddress, PROTOCOLS, type Protocol } from './protocols';
import { issuesOf } from './options';

/** One contact to consider for a delivery: a recipient's contact or a site contact, already checked. */
export interface Target {
  recipient: Recipient | null;
  contact: Contact & { protocol: Protocol };
  /** Normalized address (dedupe, suppression, preferences), computed once — core's only normalization. */
  norm: string;
  /** Where the contact came from, for error messages (built only when needed). */
  where: () => { path: string; label: string };
}

export interface ValidatedInput {
  /** The schema's output, or undefined when the data is invalid (then `issues` says why). */
  data: unknown;
  dataOk: boolean;
  targets: Target[];
  issues: ValidationIssue[];
}

/** C0 controls and DEL: never valid in an address or a display name (header injection: `"Eve\r\nBcc: x"`). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
/** NUL and UTF-16 surrogates; surrogates are only a problem when unpaired (LONE_SURROGATE). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point
const SUSPECT = /[\u0000\ud800-\udfff]/;

/** True when `value` holds a C0 control character or DEL (CR, LF, tab, NUL …). */
export function hasControlCharacter(value: string): boolean {
  return CONTROL.test(value);
}
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a string cannot be stored (NUL, lone UTF-16 surrogate), or null. PostgreSQL refuses both in text and jsonb. */
export function unstorable(value: string): string | null {
  if (!SUSPECT.test(value)) return null;
  if (value.includes('\u0000')) return 'contains a NUL character (\\u0000), which stores cannot hold';
  if (LONE_SURROGATE.test(value)) return 'contains a lone UTF-16 surrogate (broken Unicode), which stores cannot hold';
  return null;
}

/** Every string inside `value` that a store cannot hold, as issues under `path`. Stops at 20. */
function unstorableIn(value: unknown, path: string, issues: ValidationIssue[], depth = 0): void {
  if (issues.length >= 20) return;
  if (typeof value === 'string') {
    const problem = unstorable(value);
    if (problem) issues.push({ path, message: problem });
    return;
  }
  if (value === null || typeof value !== 'object' || depth > 32) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) unstorableIn(value[i], `${path}[${i}]`, issues, depth + 1);
    return;
  }
  if (value instanceof Date || value instanceof Uint8Array) return;
  for (const key of Object.keys(value)) {
    const keyProblem = unstorable(key);
    if (keyProblem) issues.push({ path: `${path}.${key}`, message: `key ${keyProblem}` });
    unstorableIn((value as Record<string, unknown>)[key], `${path}.${key}`, issues, depth + 1);
  }
}

function checkText(value: unknown, path: string, what: string, issues: ValidationIssue[], allowControl = false): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'string') {
    issues.push({ path, message: `${what} must be a string, got ${value === null ? 'null' : typeof value}` });
    return false;
  }
  const problem = unstorable(value) ?? (!allowControl && CONTROL.test(value) ? 'contains a control character (CR, LF, tab …); remove it' : null);
  if (problem) {
    issues.push({ path, message: `${what} ${problem}` });
    return false;
  }
  return true;
}

export interface ValidateContext {
  backends: ReadonlyMap<string, Backend>;
  siteContacts: readonly SiteContact[];
}

/**
 * The **validate** stage of `notify()`: the data against the notification's schema, every recipient and contact
 * (protocol, address form, explicit backend, strings a store can hold), then site contacts. Pure: collects every
 * problem instead of stopping at the first, so one `ValidationError` names them all.
 */
export function validateInput(n: Notification, data: unknown, recipients: readonly Recipient[], ctx: ValidateContext): ValidatedInput {
  const issues: ValidationIssue[] = [];
  const parsed = n.schema.safeParse(data);
  if (!parsed.success) issues.push(...issuesOf(parsed.error, 'data'));
  else unstorableIn(parsed.data, 'data', issues);

  const targets: Target[] = [];
  for (let ri = 0; ri < recipients.length; ri++) {
    const recipient = recipients[ri]!;
    if (!recipient || typeof recipient !== 'object' || !Array.isArray(recipient.contacts)) {
      issues.push({ path: `recipients[${ri}].contacts`, message: 'must be an array of { protocol, address }' });
      continue;
    }
    const idOk = checkText(recipient.id, `recipients[${ri}].id`, 'recipient id', issues);
    const nameOk = checkText(recipient.name, `recipients[${ri}].name`, `name of recipient${idOk && recipient.id ? ` "${recipient.id}"` : ` ${ri}`}`, issues);
    if (!idOk || !nameOk) continue;
    const contacts: Contact[] = recipient.contacts;
    for (let ci = 0; ci < contacts.length; ci++) {
      const contact = contacts[ci]!;
      const where = () => ({
        path: `recipients[${ri}].contacts[${ci}]`,
        label: `contact ${contact?.protocol}:${contact?.address}${recipient.id ? ` of recipient "${recipient.id}"` : ''}`,
      });
      if (!contact || !isProtocol(contact.protocol)) {
        const { path, label } = where();
        issues.push({ path: `${path}.protocol`, message: `${label}: unknown protocol "${contact?.protocol}"; use one of ${PROTOCOLS.join(', ')}` });
        continue;
      }
      if (typeof contact.address !== 'string' || CONTROL.test(contact.address) || unstorable(contact.address)) {
        const { path } = where();
        const label = `contact ${contact.protocol}:${JSON.stringify(contact.address)}${recipient.id ? ` of recipient "${recipient.id}"` : ''}`;
        const why = typeof contact.address !== 'string' ? 'the address must be a string' : (unstorable(contact.address) ?? 'the address contains a control character (CR, LF, tab …); remove it');
        issues.push({ path: `${path}.address`, message: `${label}: ${why}` });
        continue;
      }
      const checked = addressSchemas[contact.protocol].safeParse(contact.address);
      if (!checked.success) {
        const { path, label } = where();
        issues.push({ path: `${path}.address`, message: `${label}: ${checked.error.issues[0]?.message ?? 'invalid address'}` });
        continue;
      }
      if (contact.backend !== undefined) {
        const b = ctx.backends.get(contact.backend);
        if (!b || b.protocol !== contact.protocol) {
          const { path, label } = where();
          issues.push({ path: `${path}.backend`, message: `${label}: no ${contact.protocol} backend named "${contact.backend}"` });
          continue;
        }
      }
      targets.push({ recipient, contact: contact as Contact & { protocol: Protocol }, norm: normalizeAddress(contact.protocol, contact.address), where });
    }
  }
  if (n.siteContacts !== false) {
    for (let i = 0; i < ctx.siteContacts.length; i++) {
      const sc = ctx.siteContacts[i]!;
      if (sc.only && !sc.only.includes(n.id)) continue;
      if (sc.except?.includes(n.id)) continue;
      const contact: Contact & { protocol: Protocol } = { protocol: sc.protocol, address: sc.address, ...(sc.backend ? { backend: sc.backend } : {}) };
      targets.push({
        recipient: null,
        contact,
        norm: normalizeAddress(contact.protocol, contact.address),
        where: () => ({ path: `siteContacts[${i}]`, label: `site contact ${sc.name ?? sc.address}` }),
      });
    }
  }
  return { data: parsed.success ? parsed.data : undefined, dataOk: parsed.success, targets, issues };
}
