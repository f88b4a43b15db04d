export { smsSegments, truncateToSegments, type SmsSegments } from './segments';
export { twilioSignature, verifyTwilioSignature } from './signature';
export { twilio, type TwilioOptions } from './twilio';
