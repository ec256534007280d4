// ElectionEvents: the one mapping from transitions to events, and the one leader feed.
import { describe, expect, it } from '@jest/globals';
import { LeadershipLostError, type ElectionEvent, type LeaderInfo } from '@elect/core';
import { Channel, ElectionEvents, transitionEvent } from '@elect/core/backend';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const info = (id: string, token: bigint, value = id): LeaderInfo => ({ id, value, token, key: `jobs/${id}` });

/** Leader readings the test pushes, and how many feeds are open now. */
function readings(ours: string[] = []) {
  const feeds: Channel<LeaderInfo | undefined>[] = [];
  const source = {
    leaders: (signal: AbortSignal) => {
      const feed = new Channel<LeaderInfo | undefined>({ signal, onEnd: () => feeds.splice(feeds.indexOf(feed), 1) });
      if (!feed.isEnded) feeds.push(feed);
      return feed;
    },
    isOurs: (key: string) => ours.includes(key),
  };
  return { source, feeds, push: (leader: LeaderInfo | undefined) => feeds.forEach((feed) => feed.push(leader)) };
}

async function take(iterable: AsyncIterable<ElectionEvent>, into: ElectionEvent[]): Promise<void> {
  for await (const event of iterable) into.push(event);
}

describe('transitionEvent', () => {
  const loss = new LeadershipLostError('deadline', 'gone');
  it.each([
    [{ kind: 'campaigning' }, { kind: 'leader', token: 7n }, { type: 'elected', id: 'a', token: 7n }],
    [{ kind: 'leader', token: 7n }, { kind: 'suspended', token: 7n, deadline: 900 }, { type: 'suspended', deadline: 900 }],
    [{ kind: 'suspended', token: 7n, deadline: 900 }, { kind: 'leader', token: 7n }, { type: 'resumed' }],
    [{ kind: 'suspended', token: 7n, deadline: 900 }, { kind: 'lost', reason: 'deadline' }, { type: 'lost', id: 'a', token: 7n, reason: 'deadline', error: loss }],
    [{ kind: 'leader', token: 7n }, { kind: 'lost', reason: 'deadline' }, { type: 'lost', id: 'a', token: 7n, reason: 'deadline', error: loss }],
    [{ kind: 'idle' }, { kind: 'campaigning' }, undefined],
    [{ kind: 'campaigning' }, { kind: 'idle' }, undefined],
    [{ kind: 'lost', reason: 'deadline' }, { kind: 'campaigning' }, undefined],
  ] as const)('%j → %j', (previous, next, event) => {
    expect(transitionEvent('a', next, previous, loss)).toEqual(event);
  });
});

describe('ElectionEvents', () => {
  it('the leader feed runs only while someone listens; the first reading is not an event; repeats and our own are not either', async () => {
    const { source, feeds, push } = readings(['jobs/me']);
    const events = new ElectionEvents(source);
    expect(feeds).toHaveLength(0);
    const stop = new AbortController();
    const seen: ElectionEvent[] = [];
    const done = take(events.subscribe(stop.signal), seen);
    await flush();
    expect(feeds).toHaveLength(1);
    push(info('a', 1n)); // the state when listening began
    push(info('a', 1n)); // the same again
    push(info('me', 2n)); // ours: our candidate reports `elected`
    push(info('b', 3n));
    push(info('b', 3n, 'moved')); // a proclaim is a change
    push(undefined);
    await flush();
    expect(seen).toEqual([
      { type: 'leader', leader: info('b', 3n) },
      { type: 'leader', leader: info('b', 3n, 'moved') },
      { type: 'leader', leader: undefined },
    ]);
    stop.abort();
    await done;
    await flush();
    expect(feeds).toHaveLength(0);
  });

  it('every listener gets each event; the feed stays until the last one leaves, and starts again for the next', async () => {
    const { source, feeds, push } = readings();
    const events = new ElectionEvents(source);
    const one = new AbortController();
    const two = new AbortController();
    const first: ElectionEvent[] = [];
    const second: ElectionEvent[] = [];
    const done = [take(events.subscribe(one.signal), first), take(events.subscribe(two.signal), second)];
    await flush();
    expect(feeds).toHaveLength(1);
    push(undefined);
    push(info('a', 1n));
    await flush(); // readings are taken asynchronously; transitions are emitted at once
    events.transition('x', { kind: 'leader', token: 5n }, { kind: 'campaigning' });
    await flush();
    one.abort();
    await flush();
    expect(feeds).toHaveLength(1);
    two.abort();
    await Promise.all(done);
    await flush();
    expect(feeds).toHaveLength(0);
    const expected = [{ type: 'leader', leader: info('a', 1n) }, { type: 'elected', id: 'x', token: 5n }];
    expect(first).toEqual(expected);
    expect(second).toEqual(expected);
    const third = new AbortController();
    const later = take(events.subscribe(third.signal), []);
    await flush();
    expect(feeds).toHaveLength(1);
    third.abort();
    await later;
  });

  it('a failing feed fails every listener; close ends them and refuses new ones', async () => {
    const failing = new ElectionEvents({
      leaders: () => ({
        [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('watch broke')) }),
      }),
      isOurs: () => false,
    });
    await expect(take(failing.subscribe(), [])).rejects.toThrow('watch broke');

    const { source, feeds } = readings();
    const events = new ElectionEvents(source);
    const running = take(events.subscribe(), []);
    await flush();
    events.close();
    await running;
    await flush();
    expect(feeds).toHaveLength(0);
    const after: ElectionEvent[] = [];
    await take(events.subscribe(), after);
    expect(after).toEqual([]);
    expect(feeds).toHaveLength(0);
  });
});
