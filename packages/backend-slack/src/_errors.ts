import { IncomingWebhookHTTPError, IncomingWebhookRequestError } from '@slack/webhook';
import { type FailureScope, type HeadersLike, type HeraldError, httpFailure, type Redactor, requestFailure } from '@herald/core';

/** Answers meaning the webhook or its channel is gone for good: suppress the address. */
const GONE = new Set(['channel_not_found', 'channel_is_archived', 'no_service', 'no_active_hooks', 'invalid_token', 'team_disabled', 'user_not_found']);
/** Answers refusing this webhook's posts without it being gone (workspace policy, a malformed hook URL). */
const REFUSED = new Set(['action_prohibited', 'posting_to_general_channel_denied', 'no_service_id', 'no_team']);
/** Answers about the message itself. */
const CONTENT = new Set(['invalid_payload', 'no_text', 'too_many_attachments', 'invalid_blocks', 'invalid_blocks_format', 'invalid_attachments', 'msg_too_long']);

/**
 * Map what `IncomingWebhook.send` threw to a Herald error through core's `httpFailure`. Slack answers in plain
 * text (`invalid_payload` …). The webhook URL is the only credential, so a refusal about it is about the
 * recipient, never the provider; `secrets` holds that URL's token for this send.
 */
export function mapSlackError(error: unknown, backend: string, secrets: Redactor, headers: HeadersLike | null): HeraldError {
  if (error instanceof IncomingWebhookHTTPError) {
    const status = error.statusCode;
    const answer = secrets.redact(error.body.trim()).slice(0, 500);
    const gone = GONE.has(answer) || status === 404 || status === 410;
    const scope: FailureScope | undefined =
      gone || REFUSED.has(answer) || status === 401 || status === 403 ? 'recipient' : CONTENT.has(answer) || status === 413 ? 'content' : undefined;
    return httpFailure(
      { status, headers: headers ?? undefined, body: answer },
      {
        backend,
        provider: 'Slack',
        secrets,
        detail: answer || error.statusMessage,
        ...(scope ? { scope } : {}),
        ...(gone ? { suppress: true, rejectReason: 'invalid' as const } : {}),
      },
    );
  }
  return requestFailure(error instanceof IncomingWebhookRequestError ? error.original : error, { backend, provider: 'Slack', secrets });
}
