export { type PostmarkOptions, postmark, type WebhookCredentials } from './postmark';
