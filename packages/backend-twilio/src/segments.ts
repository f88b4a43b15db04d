/** GSM 03.38 basic character set (one septet each); ESC (0x1B) is left out on purpose. */
const GSM_BASIC = new Set(
  Array.from(
    '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
  ),
);
/** GSM 03.38 extension table: each costs two septets (ESC + char). */
const GSM_EXTENDED = new Set(Array.from('\f^{}\\[~]|€'));

/** How an SMS body is encoded and how many segments it takes. */
export interface SmsSegments {
  encoding: 'GSM-7' | 'UCS-2';
  /** Segments the body is split into (0 for an empty body). */
  segments: number;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2). */
  units: number;
}

function _cost(char: string, gsm: boolean): number {
  if (!gsm) return char.length;
  return GSM_EXTENDED.has(char) ? 2 : 1;
}

/**
 * Count the segments of an SMS body as carriers split it: GSM-7 when every character is in the GSM 03.38 tables
 * (160 septets alone, 153 per part, extension characters count 2 and are never split), otherwise UCS-2
 * (70 code units alone, 67 per part, surrogate pairs never split).
 *
 * @example
 * ```ts
 * smsSegments('hello').segments; // 1
 * smsSegments('é'.repeat(161)).encoding; // 'GSM-7' → 2 segments
 * smsSegments('🙂 hi').encoding; // 'UCS-2'
 * ```
 */
export function smsSegments(text: string): SmsSegments {
  const chars = Array.from(text);
  const gsm = chars.every((c) => GSM_BASIC.has(c) || GSM_EXTENDED.has(c));
  const encoding = gsm ? 'GSM-7' : 'UCS-2';
  const single = gsm ? 160 : 70;
  const part = gsm ? 153 : 67;
  let units = 0;
  for (const c of chars) units += _cost(c, gsm);
  if (units === 0) return { encoding, segments: 0, units };
  if (units <= single) return { encoding, segments: 1, units };
  let segments = 1;
  let used = 0;
  for (const c of chars) {
    const cost = _cost(c, gsm);
    if (used + cost > part) {
      segments += 1;
      used = 0;
    }
    used += cost;
  }
  return { encoding, segments, units };
}

/**
 * Cut `text` at a code point, adding an ellipsis that keeps its encoding, so it fits in `maxSegments`.
 *
 * @example
 * ```ts
 * truncateToSegments('a'.repeat(200), 1); // 157 × 'a' + '...'
 * ```
 */
export function truncateToSegments(text: string, maxSegments: number): string {
  const { segments, encoding } = smsSegments(text);
  if (segments <= maxSegments) return text;
  const ellipsis = encoding === 'GSM-7' ? '...' : '…';
  const chars = Array.from(text);
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (smsSegments(chars.slice(0, mid).join('') + ellipsis).segments <= maxSegments) lo = mid;
    else hi = mid - 1;
  }
  return chars.slice(0, lo).join('') + ellipsis;
}
