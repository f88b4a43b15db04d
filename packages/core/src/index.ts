export * from './api';
export * from './backend';
export * from './errors';
export * from './herald';
export {
  ANSWER_LIMIT_BYTES,
  type AnswerSource,
  classifyStatus,
  type HeadersLike,
  headerOf,
  type HttpAnswer,
  httpFailure,
  type HttpFailureOptions,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
  readAnswer,
  requestFailure,
} from './http';
export * from './ids';
export * from './notification';
export * from './protocols';
export { type Redactor, redactAddress, redactJson, type SecretOptions, type Secrets, secretsOf } from './secrets';
export * from './status';
export * from './templates';
export * from './types';
export * from './webhooks';
export * from './webhooks-node';
