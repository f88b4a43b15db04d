export { type SendgridOptions, sendgrid, type WebhookCredentials } from './sendgrid';
