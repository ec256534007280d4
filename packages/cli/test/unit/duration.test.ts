import { describe, expect, it } from '@jest/globals';
import { formatDuration, parseDuration } from '../../src/duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5s', 1_500],
    ['.5s', 500],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    [' 3s ', 3_000],
    ['0', 0],
    ['0s', 0],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('refuses a bare number: seconds or milliseconds would be a guess', () => {
    expect(() => parseDuration('10')).toThrow('"10" has no unit; write 10s or 10ms');
  });

  it('says a negative duration is negative', () => {
    expect(() => parseDuration('-5s')).toThrow('"-5s" is negative');
  });

  it.each(['', 'abc', '10x', '-1s', '1s2', 's', '1 s', '1e3ms', 'NaNs'])('refuses %p with a message', (text) => {
    expect(() => parseDuration(text)).toThrow(/duration|empty|unit/);
  });
});

describe('formatDuration', () => {
  it('prints what people write', () => {
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(4_750)).toBe('4.75s');
    expect(formatDuration(90_000)).toBe('1.5m');
  });
});
