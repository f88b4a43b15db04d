/** Twitter's limit for a post, in weighted characters. */
export const TWEET_MAX_LENGTH = 280;
/** What any URL counts for, whatever its length (t.co wrapping). */
export const TWEET_URL_LENGTH = 23;

const URL = /https?:\/\/[^\s<>"]+[^\s<>".,:;!?)\]}'’”]/giu;
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;
const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** twitter-text's weighting: Latin-1 to Georgian and a few punctuation blocks count 1, everything else 2. */
function _codePointWeight(cp: number): number {
  return cp <= 0x10ff || (cp >= 0x2000 && cp <= 0x200d) || (cp >= 0x2010 && cp <= 0x201f) || (cp >= 0x2032 && cp <= 0x2037) ? 1 : 2;
}

function _graphemeWeight(grapheme: string): number {
  if (EMOJI.test(grapheme)) return 2; // an emoji sequence (ZWJ, skin tone, flag) counts once, as 2
  let weight = 0;
  for (const ch of grapheme) weight += _codePointWeight(ch.codePointAt(0)!);
  return weight;
}

/** Split into units that are counted (and truncated) whole: URLs and grapheme clusters. */
function _units(text: string): { text: string; weight: number }[] {
  const units: { text: string; weight: number }[] = [];
  let last = 0;
  const graphemes = (part: string) => {
    for (const { segment } of segmenter.segment(part)) units.push({ text: segment, weight: _graphemeWeight(segment) });
  };
  for (const match of text.matchAll(URL)) {
    graphemes(text.slice(last, match.index));
    units.push({ text: match[0], weight: TWEET_URL_LENGTH });
    last = match.index + match[0].length;
  }
  graphemes(text.slice(last));
  return units;
}

/**
 * The length Twitter counts for a post, approximating twitter-text v3: text is NFC-normalized; `http(s)://` URLs count
 * 23 whatever their length (bare domains are counted as text); an emoji, including ZWJ sequences, skin tones and
 * flags, counts 2; other characters count 1 in Latin, Greek, Cyrillic, Hebrew, Arabic, Indic scripts and common
 * punctuation (U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F, U+2032–U+2037), 2 elsewhere (CJK, `…`, symbols).
 *
 * @example
 * ```ts
 * tweetLength('hello'); // 5
 * tweetLength('日本語'); // 6
 * tweetLength('see https://example.org/a/very/long/path'); // 27
 * ```
 */
export function tweetLength(text: string): number {
  return _units(text.normalize('NFC')).reduce((sum, u) => sum + u.weight, 0);
}

/**
 * Shorten a post to `max` weighted characters (see {@link tweetLength}), ending it with `…`. URLs and emoji are
 * kept whole or dropped whole; trailing white space before the ellipsis is removed. Text that fits is returned as is.
 *
 * @example
 * ```ts
 * truncateTweet('a'.repeat(300)); // 'aaa…' — 278 × 'a' + '…' (which counts 2)
 * ```
 */
export function truncateTweet(text: string, max = TWEET_MAX_LENGTH): string {
  const normalized = text.normalize('NFC');
  if (tweetLength(normalized) <= max) return normalized;
  const budget = max - _graphemeWeight('…');
  let used = 0;
  let out = '';
  for (const unit of _units(normalized)) {
    if (used + unit.weight > budget) break;
    used += unit.weight;
    out += unit.text;
  }
  return `${out.trimEnd()}…`;
}
