import { type Duration, defineNotification, type Notification } from '@herald/core';
import { z } from 'zod';

/** The id of the built-in notification behind `Postmaster.Enqueue`. */
export const POSTMASTER_NOTIFICATION_ID = 'postmaster.email';

const schema = z.object({
  subject: z.string(),
  html: z.string().optional(),
  text: z.string().optional(),
  /** postmaster's uniqueID: stored as the delivery's dedupe key, for `GetLastEmail` and `GET /v1/last-sent`. */
  uniqueID: z.string().optional(),
});

export type PostmasterData = z.infer<typeof schema>;

/**
 * The notification `Postmaster.Enqueue` sends: subject, HTML and text come from the call (as given: postmaster's
 * clients send finished HTML), sender, reply-to and `uniqueArgs` from the call's options. `uniqueID` becomes the
 * delivery's dedupe key; with `dedupeWindow` a repeat of the same uniqueID to the same address within the window
 * is skipped as a duplicate (postmaster itself never dedupes — its clients compared `GetLastEmail` by hand).
 *
 * @example
 * ```ts
 * import { createHerald } from '@herald/core';
 * import { definePostmasterNotification } from '@herald/server';
 * import { sqliteStore } from '@herald/store-sqlite';
 *
 * const herald = createHerald({
 *   store: sqliteStore({ path: 'herald.db' }),
 *   backends: [],
 *   notifications: [definePostmasterNotification({ dedupeWindow: '1h' })],
 * });
 * await herald.close();
 * ```
 */
export function definePostmasterNotification(options: { dedupeWindow?: Duration } = {}): Notification<typeof schema> {
  return defineNotification({
    id: POSTMASTER_NOTIFICATION_ID,
    schema,
    description: "postmaster's Postmaster.Enqueue (JSON-RPC at /rpc): subject, html and text from the call",
    templates: {
      // Blocks keep html and text apart: an html-only call sends no text part and a text-only call no html part, as
      // postmaster did. Triple braces: the HTML is the caller's finished markup.
      email: { format: 'blocks', body: '{{#block "subject"}}{{subject}}{{/block}}{{#block "html"}}{{{html}}}{{/block}}{{#block "text"}}{{text}}{{/block}}' },
    },
    dedupe: { key: (data) => data.uniqueID ?? null, window: options.dedupeWindow ?? 0 },
    siteContacts: false,
  });
}

/**
 * `Postmaster.Enqueue`'s notification with postmaster's behaviour: `uniqueID` stored, never deduplicated. Add it
 * to `createHerald({ notifications })` to serve `/rpc` (a server cannot add notifications to an instance).
 *
 * @example
 * ```ts
 * import { createHerald } from '@herald/core';
 * import { createServer, postmasterNotification, serve } from '@herald/server';
 * import { sqliteStore } from '@herald/store-sqlite';
 *
 * const herald = createHerald({ store: sqliteStore({ path: 'herald.db' }), backends: [], notifications: [postmasterNotification] });
 * const server = await serve(createServer(herald), { port: 0 });
 * console.log(`${server.url}/rpc`);
 * await server.close();
 * await herald.close();
 * ```
 */
export const postmasterNotification: Notification<typeof schema> = definePostmasterNotification();

/** Category of each flag bit. */
export type FlagTable = ReadonlyMap<bigint, string>;

/** One category per bit, bits 2 to 2^52 (bit 1 is reserved): `flag-2`, `flag-4`, `flag-8` … */
export const DEFAULT_FLAG_CATEGORIES: ReadonlyMap<bigint, string> = new Map(
  Array.from({ length: 52 }, (_, i) => {
    const bit = 2n ** BigInt(i + 1);
    return [bit, `flag-${bit}`] as const;
  }),
);

/** The categories of the bits set in `flags` (bit 1, the reserved one, has none). */
export function categoriesOf(flags: number, table: FlagTable): string[] {
  const out: string[] = [];
  const value = BigInt(flags);
  for (const [bit, category] of table) if ((value & bit) !== 0n) out.push(category);
  return out;
}

/** The flags of these categories; categories that are not a flag's (set through the REST API) are ignored. */
export function flagsOf(categories: readonly string[], table: FlagTable): number {
  let value = 0n;
  for (const [bit, category] of table) if (categories.includes(category)) value |= bit;
  return Number(value);
}

/** Whether a category is one of the flag table's (UpdatePrefs replaces those and keeps the others). */
export function isFlagCategory(category: string, table: FlagTable): boolean {
  for (const c of table.values()) if (c === category) return true;
  return false;
}
