export { isBlockedAddress, type Resolver } from './ssrf';
export { jsonWebhook, type JsonWebhookOptions } from './json-webhook';
export {
  signWebhook,
  type StandardWebhookHeaders,
  verifyWebhook,
  type WebhookSecret,
  webhookKey,
  type WebhookVerifyResult,
} from './standard-webhooks';
