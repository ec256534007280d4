import { describe, expect, it } from '@jest/globals';
import {
  campaignOptions,
  candidateId,
  candidateValue,
  decodePayload,
  durationOption,
  encodePayload,
  isAbortSignal,
  knownKeys,
  readOptions,
  textOption,
} from '@elect/core/backend';

const invalid = (option: string) => expect.objectContaining({ name: 'InvalidOptionError', code: 'ELECT_INVALID_OPTION', option });

describe('options', () => {
  it('durationOption: the fallback when undefined, a finite number within bounds otherwise', () => {
    expect(durationOption('ttlMs', undefined, 5)).toBe(5);
    expect(durationOption('ttlMs', 0, 5)).toBe(0);
    expect(() => durationOption('ttlMs', '10', 5)).toThrow(invalid('ttlMs'));
    expect(() => durationOption('ttlMs', Number.NaN, 5)).toThrow(invalid('ttlMs'));
    expect(() => durationOption('ttlMs', -1, 5)).toThrow(invalid('ttlMs'));
    expect(() => durationOption('ttlMs', 11, 5, { max: 10 })).toThrow(/between 0 and 10 ms, got 11/);
  });

  it('textOption and candidateId: non-empty, bounded, no line breaks or NUL', () => {
    expect(textOption('name', 'ok')).toBe('ok');
    expect(candidateId('x'.repeat(256))).toHaveLength(256);
    for (const bad of ['', 'x'.repeat(257), 'a\nb', 'a\rb', 'a\0b', 5, undefined, null, {}]) {
      expect(() => candidateId(bad)).toThrow(invalid('id'));
    }
  });

  it('candidateValue: any string up to 64 KiB (in bytes)', () => {
    expect(candidateValue('multi\nline')).toBe('multi\nline');
    expect(candidateValue('')).toBe('');
    expect(() => candidateValue('é'.repeat(40_000))).toThrow(invalid('value'));
    expect(() => candidateValue(1)).toThrow(invalid('value'));
  });

  it('knownKeys catches typos', () => {
    expect(() => knownKeys('connect()', { sessionTimeout: 1 }, ['sessionTimeoutMs'])).toThrow(invalid('sessionTimeout'));
    expect(() => knownKeys('connect()', { sessionTimeoutMs: 1 }, ['sessionTimeoutMs'])).not.toThrow();
  });

  it('campaignOptions: id, value defaulting to id, signal; unknown keys refused', () => {
    const signal = new AbortController().signal;
    const plain = { priority: undefined, preempt: false };
    expect(campaignOptions({ id: 'a' })).toEqual({ id: 'a', value: 'a', signal: undefined, ...plain });
    expect(campaignOptions({ id: 'a', value: 'v', signal })).toEqual({ id: 'a', value: 'v', signal, ...plain });
    expect(campaignOptions({ id: 'a', priority: 0 })).toMatchObject({ priority: 0, preempt: false });
    expect(campaignOptions({ id: 'a', priority: 2 ** 31 - 1, preempt: true })).toMatchObject({ priority: 2 ** 31 - 1, preempt: true });
    expect(() => campaignOptions({ id: 'a', preempt: true })).toThrow(invalid('preempt'));
    expect(() => campaignOptions({ id: 'a', priority: NaN })).toThrow(invalid('priority'));
    expect(() => campaignOptions(undefined)).toThrow(invalid('options'));
    expect(() => campaignOptions({ id: 'a', signal: {} })).toThrow(invalid('signal'));
    expect(() => campaignOptions({ id: 'a', rejoin: true })).toThrow(invalid('rejoin'));
  });

  it('readOptions and isAbortSignal', () => {
    expect(readOptions('leader()', undefined)).toBeUndefined();
    expect(readOptions('leader()', {})).toBeUndefined();
    expect(() => readOptions('leader()', { timeout: 1 })).toThrow(invalid('timeout'));
    expect(() => readOptions('leader()', 'x')).toThrow(invalid('options'));
    expect(isAbortSignal(AbortSignal.abort())).toBe(true);
    expect(isAbortSignal({ aborted: false })).toBe(false);
  });
});

describe('payload', () => {
  it('is the id alone unless a different value was set, so peers read the id', () => {
    expect(encodePayload('node-1')).toBe('node-1');
    expect(encodePayload('node-1', 'node-1')).toBe('node-1');
    expect(encodePayload('node-1', 'http://10.0.0.1:80')).toBe('node-1\nhttp://10.0.0.1:80');
  });

  it('round-trips, including values with line breaks and empty values', () => {
    for (const [id, value] of [['a', 'a'], ['a', ''], ['a', 'x\ny\nz']] as const) {
      expect(decodePayload(encodePayload(id, value))).toEqual({ id, value });
    }
    expect(decodePayload('plain')).toEqual({ id: 'plain', value: 'plain' });
  });
});
