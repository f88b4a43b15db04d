export { parseNotifyCallback, routeNotifyCallback, verifyNotifyCallback } from './callbacks';
export {
  apiKeyParts,
  DEFAULT_BASE_URL,
  type GovukNotifyEmailOptions,
  type GovukNotifyFileOptions,
  type GovukNotifyOptions,
  type GovukNotifyPollOptions,
  type GovukNotifySmsOptions,
  govukNotifyEmail,
  govukNotifySms,
} from './govuk-notify';
export {
  govukNotifyEmailNotification,
  govukNotifySmsNotification,
  type SendEmailNotificationOptions,
  type SendSmsNotificationOptions,
  sendEmailNotification,
  sendSmsNotification,
} from './migrate';
export { FINAL_NOTIFY_STATUSES, notifyEvent, type OutboxStatus, outboxStatus } from './statuses';
