/**
 * The Herald of this example, as `herald serve` and `herald keys` load it: the default export is the createHerald
 * options, the named `server` export the HTTP API's options. Paths and ports come from the environment so the test
 * can point them at a temporary database and a loopback SMTP server.
 */
import { smtp } from '@herald/backend-smtp';
import { defineNotification, type HeraldOptions } from '@herald/core';
import { postmasterNotification, type ServerOptions } from '@herald/server';
import { sqliteStore } from '@herald/store-sqlite';
import { z } from 'zod';

export const orderShipped = defineNotification({
  id: 'order-shipped',
  category: 'orders',
  schema: z.object({ orderId: z.string(), carrier: z.string() }),
  templates: {
    email: { format: 'markdown', subject: 'Order {{orderId}} has shipped', body: 'Hi {{recipient.name}}, order **{{orderId}}** is on its way with {{carrier}}.' },
  },
});

export default {
  store: sqliteStore({ path: process.env.HERALD_DB ?? 'herald.db' }),
  backends: [smtp({ host: '127.0.0.1', port: Number(process.env.SMTP_PORT ?? 2525), secure: false, ignoreTLS: true, from: 'Shop <no-reply@shop.example.org>' })],
  // postmasterNotification serves postmaster's JSON-RPC at /rpc.
  notifications: [orderShipped, postmasterNotification],
} satisfies HeraldOptions;

export const server: ServerOptions = { rateLimit: { perMinute: 600 } };
