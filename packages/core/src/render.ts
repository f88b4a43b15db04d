import { applyCapabilities } from './backend';
import { UnsupportedFeatureError } from './errors';
import type { Notification } from './notification';
import type { PlannedDelivery } from './plan';
import { isTestAddress } from './protocols';
import type { CompiledTemplate } from './templates';
import type { RenderScope } from './templates/compile';
import type { Attachment, AttachmentInput, Backend, FallbackMessage, OutboundMessage, RenderedContent, SendOptions } from './types';

export interface RenderInput {
  notification: Notification;
  data: Record<string, unknown>;
  queued: readonly PlannedDelivery[];
  /** Send options of this call, merged over the notification's and the backend's defaults. */
  callOptions: SendOptions | undefined;
}

/**
 * The **render** stage of `notify()`: each queued delivery's message in its backend's format, plus the same
 * message pre-rendered for every backend it may fail over to (so the worker never needs the data again and
 * nothing but the rendered messages is kept). Options and attachments are merged and checked against each
 * backend's capabilities once per backend per call: the check raises `UnsupportedFeatureError` for the first
 * backend, while a fallback that cannot carry the message is left out of its fallbacks instead.
 */
export async function renderMessages(input: RenderInput): Promise<void> {
  const { notification: n, data, queued } = input;
  const memo = new Map<unknown, unknown>();
  let attachments: Attachment[] | null = null;
  const needAttachments = async (backend: Backend): Promise<Attachment[]> => {
    if (!n.attachments || !backend.capabilities.attachments) return [];
    if (attachments === null) attachments = toAttachments(await n.attachments(data));
    return attachments;
  };
  const checked = new Map<string, Pick<OutboundMessage, 'options' | 'attachments'> | null>();
  const optionsFor = async (backend: Backend, probe: OutboundMessage, strict: boolean) => {
    if (checked.has(backend.name)) return checked.get(backend.name) ?? null;
    probe.options = mergeOptions(backend.defaults, n.options, input.callOptions);
    probe.attachments = await needAttachments(backend);
    try {
      const capped = applyCapabilities(backend, probe);
      const value = { options: capped.options, attachments: capped.attachments };
      checked.set(backend.name, value);
      return value;
    } catch (error) {
      if (strict || !(error instanceof UnsupportedFeatureError)) throw error;
      checked.set(backend.name, null);
      return null;
    }
  };

  for (const { row, target, route } of queued) {
    const { recipient, contact } = target;
    const recipientView = recipient ? { ...(recipient.id ? { id: recipient.id } : {}), ...(recipient.name ? { name: recipient.name } : {}) } : {};
    const scope: RenderScope = { data, recipient: recipientView, contact: { protocol: contact.protocol, address: contact.address }, memo };
    const message: OutboundMessage = {
      deliveryId: row.id,
      notification: n.id,
      protocol: contact.protocol,
      backend: route.backend.name,
      to: contact.address,
      recipient: recipientView,
      content: route.template.render(scope),
      attachments: [],
      options: {},
    };
    const own = (await optionsFor(route.backend, message, true))!;
    message.options = withFrom(own.options, message.content, input.callOptions);
    message.attachments = own.attachments;
    if (route.fallbacks.length) {
      const fallbacks = await renderFallbacks(route.fallbacks, message, scope, contact.address, optionsFor, input.callOptions);
      if (fallbacks.length) message.fallbacks = fallbacks;
    }
    row.message = message;
  }
}

async function renderFallbacks(
  candidates: readonly { backend: Backend; template: CompiledTemplate }[],
  primary: OutboundMessage,
  scope: RenderScope,
  address: string,
  optionsFor: (backend: Backend, probe: OutboundMessage, strict: boolean) => Promise<Pick<OutboundMessage, 'options' | 'attachments'> | null>,
  callOptions: SendOptions | undefined,
): Promise<FallbackMessage[]> {
  const out: FallbackMessage[] = [];
  for (const { backend, template } of candidates) {
    // A fallback must be allowed to take this contact on its own terms: test addresses stay on test backends,
    // and the backend's own address rules apply.
    if (!backend.test && isTestAddress(primary.protocol, address)) continue;
    if (backend.validateAddress?.(address)) continue;
    const checked = await optionsFor(backend, { ...primary, backend: backend.name }, false);
    if (!checked) continue;
    const content = template.render(scope);
    out.push({ backend: backend.name, content, attachments: checked.attachments, options: withFrom(checked.options, content, callOptions) });
  }
  return out;
}

/**
 * A template's rendered `from` (django-vox's `from_address`) is the sender, over the backend's and the
 * notification's defaults; a `from` passed to this `notify()` call still wins. The shared options object of the
 * backend is never changed.
 */
function withFrom(options: SendOptions, content: RenderedContent, callOptions: SendOptions | undefined): SendOptions {
  if (content.from === undefined || callOptions?.from !== undefined) return options;
  return { ...options, from: content.from };
}

/** Merge send options: scalars last-wins, lists concatenated, headers/metadata/providerOptions merged (anymail's rules). */
export function mergeOptions(...layers: (SendOptions | undefined)[]): SendOptions {
  const out: SendOptions = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const [key, value] of Object.entries(layer) as [keyof SendOptions, unknown][]) {
      if (value === undefined) continue;
      const prev = out[key];
      if (Array.isArray(value)) (out as Record<string, unknown>)[key] = [...((prev as unknown[]) ?? []), ...value];
      else if (key === 'providerOptions') {
        const merged: Record<string, unknown> = { ...(prev as object) };
        for (const [b, v] of Object.entries(value as object)) merged[b] = { ...(merged[b] as object), ...(v as object) };
        out.providerOptions = merged as SendOptions['providerOptions'];
      } else if (value && typeof value === 'object') (out as Record<string, unknown>)[key] = { ...(prev as object), ...(value as object) };
      else (out as Record<string, unknown>)[key] = value;
    }
  }
  return out;
}

function toAttachments(list: readonly AttachmentInput[]): Attachment[] {
  return list.map((a) => ({
    filename: a.filename,
    contentType: a.contentType ?? 'application/octet-stream',
    content: Buffer.from(typeof a.content === 'string' ? Buffer.from(a.content, 'utf8') : a.content).toString('base64'),
    ...(a.contentId ? { contentId: a.contentId } : {}),
  }));
}
