import { OpenAPIHono } from '@hono/zod-openapi';
import { type ServerOptions, resolveOptions } from './options';
import { defineRoutes, documentedOnlyRoutes } from './_routes';

/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas that validate its requests (the same
 * route table the server registers its handlers on). Also served at `GET <basePath>/v1/openapi.json`.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { openApiDocument } from '@herald/server';
 *
 * writeFileSync('openapi.json', JSON.stringify(openApiDocument(), null, 2));
 * ```
 */
export function openApiDocument(options: ServerOptions = {}): Record<string, unknown> {
  const resolved = resolveOptions(options);
  const app = new OpenAPIHono();
  const registry = app.openAPIRegistry;
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key `hk_<id>_<secret>` (herald keys create). Scopes: send, read, admin.',
  });
  for (const route of Object.values(defineRoutes(resolved.basePath))) registry.registerPath(route);
  for (const route of documentedOnlyRoutes(resolved.basePath, resolved.rpc.enabled !== false)) registry.registerPath(route);
  const document = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'Herald HTTP API',
      version: '1',
      description:
        'Enqueue notifications, read deliveries, manage preferences and suppressions, and speak postmaster\'s JSON-RPC. Errors are `{ "error": { "code", "message", "field" } }`. See docs/http-api.md.',
    },
    tags: [
      { name: 'notify' },
      { name: 'deliveries' },
      { name: 'audience', description: 'Preferences and the suppression list.' },
      { name: 'postmaster', description: "postmaster's JSON-RPC 2.0 API." },
      { name: 'webhooks' },
      { name: 'operations' },
    ],
  });
  if (resolved.auth === 'none') {
    // Nothing asks for a key: say so instead of advertising a scheme no route uses.
    for (const item of Object.values(document.paths ?? {})) {
      for (const op of Object.values(item as Record<string, { security?: unknown }>)) if (op && typeof op === 'object') delete op.security;
    }
  }
  return document as unknown as Record<string, unknown>;
}
