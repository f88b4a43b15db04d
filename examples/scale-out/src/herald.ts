/** The Herald set-up shared by the app process and the worker processes: same store, same backends. */
import { jsonWebhook } from '@herald/backend-json-webhook';
import { createHerald, defineNotification } from '@herald/core';
import { postgresStore } from '@herald/store-postgres';
import { z } from 'zod';

export const orderPlaced = defineNotification({
  id: 'order-placed',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  templates: { 'json-webhook': { format: 'params', body: { event: 'order.placed', order: '{{orderId}}', total: '{{total}}' } } },
});

export function makeHerald(schema: string) {
  return createHerald({
    store: postgresStore({ connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', schema }),
    // The receiver runs on loopback in this example; production webhooks keep the SSRF guard on.
    backends: [jsonWebhook({ secret: 'whsec_ZXhhbXBsZS1zZWNyZXQtZm9yLWhlcmFsZA==', allowPrivateNetworks: true })],
    notifications: [orderPlaced],
    logger: false,
  });
}
