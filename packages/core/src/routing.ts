import type { Notification } from './notification';
import type { Protocol } from './protocols';
import type { CompiledTemplate } from './templates';
import type { Backend } from './types';

/** How several backends of one protocol share the work. */
export type RoutingMode = 'failover' | 'round-robin';

/** The templates compiled for each (notification, backend), as the template registry hands them out. */
export interface TemplateLookup {
  for(notification: string, backend: string): CompiledTemplate | null;
}

/** Where one contact goes: the backend that sends first and, in order, the ones it fails over to. */
export interface Route {
  backend: Backend | null;
  template: CompiledTemplate | null;
  /** Other backends of the protocol with a template, in the order the delivery tries them. */
  fallbacks: { backend: Backend; template: CompiledTemplate }[];
}

const NO_FALLBACKS: Route['fallbacks'] = [];

/**
 * Routing policy: an explicit `contact.backend` is used as given (no fallback); otherwise the protocol's backends
 * that have a template are tried in configuration order (`failover`), or starting from the next one in turn
 * (`round-robin`) and then the rest — so both modes fail over the same way.
 */
export class Router {
  private readonly byProtocol = new Map<Protocol, Backend[]>();
  private readonly cursor = new Map<Protocol, number>();
  /** Usable backends per notification and protocol, computed on first use. */
  private readonly usable = new Map<string, { backend: Backend; template: CompiledTemplate }[]>();

  constructor(
    private readonly backends: ReadonlyMap<string, Backend>,
    private readonly templates: TemplateLookup,
    private readonly modes: Partial<Record<Protocol, RoutingMode>>,
  ) {
    for (const backend of backends.values()) {
      const list = this.byProtocol.get(backend.protocol) ?? [];
      list.push(backend);
      this.byProtocol.set(backend.protocol, list);
    }
  }

  hasProtocol(protocol: Protocol): boolean {
    return this.byProtocol.has(protocol);
  }

  route(n: Notification, protocol: Protocol, explicit: string | undefined): Route {
    if (explicit) {
      const backend = this.backends.get(explicit)!;
      return { backend, template: this.templates.for(n.id, backend.name), fallbacks: NO_FALLBACKS };
    }
    const candidates = this.byProtocol.get(protocol);
    if (!candidates?.length) return { backend: null, template: null, fallbacks: NO_FALLBACKS };
    const key = `${n.id}\u0000${protocol}`;
    let usable = this.usable.get(key);
    if (!usable) {
      usable = [];
      for (const backend of candidates) {
        const template = this.templates.for(n.id, backend.name);
        if (template) usable.push({ backend, template });
      }
      this.usable.set(key, usable);
    }
    if (!usable.length) return { backend: candidates[0]!, template: null, fallbacks: NO_FALLBACKS };
    if (usable.length === 1) return { backend: usable[0]!.backend, template: usable[0]!.template, fallbacks: NO_FALLBACKS };
    let start = 0;
    if (this.modes[protocol] === 'round-robin') {
      const i = this.cursor.get(protocol) ?? 0;
      start = i % usable.length;
      this.cursor.set(protocol, i + 1);
    }
    const first = usable[start]!;
    const fallbacks: Route['fallbacks'] = [];
    for (let k = 1; k < usable.length; k++) fallbacks.push(usable[(start + k) % usable.length]!);
    return { backend: first.backend, template: first.template, fallbacks };
  }
}
