import type { SendResult } from '@herald/core';
import { recipientStatusOf } from './_errors';

/** What nodemailer's SMTP transports resolve with (the fields Herald reads). */
export interface SentInfo {
  messageId?: string;
  response?: string;
  accepted?: (string | { address: string })[];
  rejected?: (string | { address: string })[];
  rejectedErrors?: { recipient?: string; responseCode?: number; response?: string }[];
}

const addressOf = (a: string | { address: string }) => (typeof a === 'string' ? a : a.address);

/** Per-recipient status from the envelope: accepted → queued at the relay; refused → rejected, invalid or failed. */
export function toSendResult(info: SentInfo): SendResult {
  const recipients: NonNullable<SendResult['recipients']> = {};
  for (const address of info.accepted ?? []) recipients[addressOf(address)] = { status: 'queued', messageId: info.messageId };
  for (const address of info.rejected ?? []) recipients[addressOf(address)] = { status: 'rejected' };
  for (const e of info.rejectedErrors ?? []) {
    if (e.recipient) recipients[e.recipient] = { status: recipientStatusOf(e.responseCode, e.response ?? '') };
  }
  const refused = Object.keys(recipients).filter((r) => recipients[r]?.status !== 'queued');
  return { messageId: info.messageId, recipients, response: { messageId: info.messageId ?? null, response: info.response ?? null, refused } };
}
