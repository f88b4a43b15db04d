import { randomInt } from 'node:crypto';

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXY';
/** Random per process, so a template's own text never looks like a slot. Letters only: see {@link Slots}. */
const NONCE = Array.from({ length: 10 }, () => LETTERS[randomInt(LETTERS.length)]).join('');
const SLOT = new RegExp(`H${NONCE}(\\d+)Z`, 'g');

/**
 * Keeps data out of marked's reach. While a `markdown` body renders, each data value becomes an opaque word
 * (`H<nonce><n>Z`: uppercase letters and digits, which Markdown never formats, autolinks or escapes, and which
 * html-to-text's uppercased headings leave alone); after marked and html-to-text ran, each word is replaced by
 * its value, HTML-escaped in the HTML part and as typed in the text part. So data can neither create structure
 * nor be escaped twice. One pass of `replace` substitutes, so a value that looks like a slot stays itself.
 */
export class Slots {
  private readonly values: string[] = [];
  private readonly index = new Map<string, number>();

  /** The escaper to render with: a value in, its slot word out. */
  readonly escape = (raw: string): string => {
    let i = this.index.get(raw);
    if (i === undefined) {
      i = this.values.length;
      this.values.push(raw);
      this.index.set(raw, i);
    }
    return `H${NONCE}${i}Z`;
  };

  /** `text` with every slot replaced by `encode(value)`. */
  fill(text: string, encode: (raw: string) => string): string {
    if (this.values.length === 0) return text;
    return text.replace(SLOT, (slot, i: string) => {
      const raw = this.values[Number(i)];
      return raw === undefined ? slot : encode(raw);
    });
  }
}
