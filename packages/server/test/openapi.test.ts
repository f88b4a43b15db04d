import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../src/index';

describe('the OpenAPI document', () => {
  // The document is checked against the OpenAPI 3.1 specification's own JSON Schema, not only by our tests' use of it.
  it.each([
    ['the defaults', {}],
    ["auth: 'none', a base path, no /rpc", { auth: 'none' as const, basePath: '/herald', rpc: { enabled: false } }],
  ])('is valid OpenAPI 3.1 with %s', async (_name, options) => {
    const result = await new Validator().validate(openApiDocument(options));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('documents every route with its errors, the bearer scheme and the request schemas', () => {
    const doc = openApiDocument() as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown; security?: unknown }>>;
      components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/healthz',
      '/rpc',
      '/v1/deliveries',
      '/v1/deliveries/{id}',
      '/v1/deliveries/{id}/cancel',
      '/v1/deliveries/{id}/redeliver',
      '/v1/last-sent',
      '/v1/notifications',
      '/v1/notify',
      '/v1/openapi.json',
      '/v1/preferences/{key}',
      '/v1/suppressions',
      '/webhooks/{backend}/{kind}',
    ]);
    expect(Object.keys(doc.paths['/v1/notify']!.post!.responses).sort()).toEqual(['201', '400', '401', '403', '413', '415', '422', '429', '503']);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas).toHaveProperty('NotifyRequest');
    expect(doc.paths['/healthz']!.get!.security).toBeUndefined();
  });
});
