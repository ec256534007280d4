import { describe, expect, it } from '@jest/globals';
import { type CandidateInfo } from '@elect/core';
import { Channel, Hub, sameLeader } from '@elect/core/backend';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

describe('Channel', () => {
  it('delivers buffered and later values in order, then ends on close', async () => {
    const channel = new Channel<number>();
    channel.push(1);
    const done = collect(channel);
    channel.push(2);
    channel.close();
    channel.push(3);
    expect(await done).toEqual([1, 2]);
  });

  it('fail(): the consumer gets what is buffered, then the error — never a silent end', async () => {
    const channel = new Channel<number>();
    channel.push(1);
    channel.fail(new Error('broken'));
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const value of channel) seen.push(value);
      })(),
    ).rejects.toThrow('broken');
    expect(seen).toEqual([1]);
  });

  it('a waiting consumer gets the error', async () => {
    const channel = new Channel<number>();
    const next = channel[Symbol.asyncIterator]().next();
    channel.fail(new Error('late'));
    await expect(next).rejects.toThrow('late');
  });

  it('keeps concurrent next() calls, in order', async () => {
    const channel = new Channel<string>();
    const iterator = channel[Symbol.asyncIterator]();
    const [a, b, c] = [iterator.next(), iterator.next(), iterator.next()];
    channel.push('x');
    channel.push('y');
    channel.close();
    expect(await a).toEqual({ value: 'x', done: false });
    expect(await b).toEqual({ value: 'y', done: false });
    expect(await c).toEqual({ value: undefined, done: true });
  });

  it('ends when its signal aborts (already or later), calling onEnd once', async () => {
    let ends = 0;
    const aborted = new Channel<number>({ signal: AbortSignal.abort(), onEnd: () => ends++ });
    expect(aborted.isEnded).toBe(true);
    expect(await collect(aborted)).toEqual([]);
    const controller = new AbortController();
    const channel = new Channel<number>({ signal: controller.signal, onEnd: () => ends++ });
    const done = collect(channel);
    channel.push(1);
    controller.abort();
    channel.close();
    expect(await done).toEqual([1]);
    expect(ends).toBe(2);
  });

  it('breaking out of the loop ends the channel', async () => {
    let ended = false;
    const channel = new Channel<number>({ onEnd: () => (ended = true) });
    channel.push(1);
    channel.push(2);
    for await (const value of channel) {
      expect(value).toBe(1);
      break;
    }
    expect(ended).toBe(true);
    expect(channel.isEnded).toBe(true);
  });
});

describe('Hub', () => {
  it('fans out to every subscriber and forgets ended ones', async () => {
    const hub = new Hub<number>();
    const controller = new AbortController();
    const a = hub.subscribe();
    const b = hub.subscribe(controller.signal);
    expect(hub.size).toBe(2);
    hub.emit(1);
    controller.abort();
    expect(hub.size).toBe(1);
    hub.emit(2);
    hub.close();
    expect(await collect(a)).toEqual([1, 2]);
    expect(await collect(b)).toEqual([1]);
    expect(hub.subscribe(AbortSignal.abort()).isEnded).toBe(true);
    expect(hub.size).toBe(0);
  });

  it('fail() reaches every subscriber', async () => {
    const hub = new Hub<number>();
    const subscribers = [hub.subscribe(), hub.subscribe()];
    hub.fail(new Error('gone'));
    for (const channel of subscribers) await expect(collect(channel)).rejects.toThrow('gone');
  });
});

describe('sameLeader', () => {
  const a: CandidateInfo = { id: 'a', value: 'a', token: 1n, key: 'k1' };
  it('compares id, value, token and key; undefined only equals undefined', () => {
    expect(sameLeader(a, { ...a })).toBe(true);
    expect(sameLeader(a, { ...a, value: 'b' })).toBe(false);
    expect(sameLeader(a, { ...a, token: 2n })).toBe(false);
    expect(sameLeader(a, { ...a, key: 'k2' })).toBe(false);
    expect(sameLeader(undefined, undefined)).toBe(true);
    expect(sameLeader(a, undefined)).toBe(false);
  });
});
