// The public API of @herald/server, listed by name.
export type { ApiErrorCode } from './_errors';
export { createApiKey, listApiKeys, revokeApiKey, SCOPES, type Scope } from './keys';
export { openApiDocument } from './openapi';
export type { RpcOptions, ServerOptions } from './options';
export {
  DEFAULT_FLAG_CATEGORIES,
  definePostmasterNotification,
  POSTMASTER_NOTIFICATION_ID,
  type PostmasterData,
  postmasterNotification,
} from './postmaster';
export { isLoopback, type RunningServer, serve } from './serve';
export { createServer, type HeraldServer } from './server';
