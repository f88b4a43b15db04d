import { describe, expect, it } from 'vitest';
import { smsSegments, truncateToSegments } from '../src';

describe('smsSegments', () => {
  it('uses GSM-7 limits of 160 / 153', () => {
    expect(smsSegments('')).toEqual({ encoding: 'GSM-7', segments: 0, units: 0 });
    expect(smsSegments('a'.repeat(160)).segments).toBe(1);
    expect(smsSegments('a'.repeat(161)).segments).toBe(2);
    expect(smsSegments('a'.repeat(306)).segments).toBe(2);
    expect(smsSegments('a'.repeat(307)).segments).toBe(3);
  });

  it('counts extension characters twice and never splits them', () => {
    expect(smsSegments('€'.repeat(80))).toEqual({ encoding: 'GSM-7', segments: 1, units: 160 });
    expect(smsSegments('€'.repeat(81)).segments).toBe(2);
    // 152 septets then an escape pair: the pair moves to the second part.
    expect(smsSegments(`${'a'.repeat(152)}{${'a'.repeat(10)}`).segments).toBe(2);
    expect(smsSegments(`${'a'.repeat(152)}{${'a'.repeat(152)}`).segments).toBe(3);
  });

  it('falls back to UCS-2 (70 / 67) and keeps surrogate pairs whole', () => {
    expect(smsSegments('ç'.repeat(70))).toEqual({ encoding: 'UCS-2', segments: 1, units: 70 });
    expect(smsSegments('ç'.repeat(71)).segments).toBe(2);
    expect(smsSegments('🙂'.repeat(35)).segments).toBe(1);
    // 33 emoji = 66 units; the 34th does not fit into 67.
    expect(smsSegments('🙂'.repeat(36)).segments).toBe(2);
    expect(smsSegments(`${'x'.repeat(66)}🙂${'x'.repeat(10)}`).segments).toBe(2);
  });

  it('truncates keeping the encoding', () => {
    expect(truncateToSegments('short', 1)).toBe('short');
    expect(truncateToSegments('b'.repeat(400), 2)).toBe(`${'b'.repeat(303)}...`);
    const ucs = truncateToSegments('ж'.repeat(200), 1);
    expect(ucs).toBe(`${'ж'.repeat(69)}…`);
  });
});
