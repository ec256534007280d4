/**
 * `onSession` gives up on a request when the wait is stopped or the session
 * ends; the request itself may still fail later (the client closing under
 * it). That late failure must not be an unhandled rejection: in `elect
 * handover` one ended the process with status 1 after the handover had
 * succeeded (the leader feed's read, started just as the handover finished).
 */
import { describe, expect, it } from '@jest/globals';
import { onSession } from '../src/create.js';
import type { Session } from '../src/session.js';

/** What `onSession` reads of a session before it would wait on one. */
const live = { id: '0x1', isEnded: false, liveness: { onStatus: () => () => {} } } as unknown as Session;
const ended = { ...live, isEnded: true } as unknown as Session;

function lateFailure(): { op: Promise<never>; fail: () => void } {
  let fail = (): void => {};
  const op = new Promise<never>((_, reject) => {
    fail = () => reject(new Error('CONNECTION_LOSS'));
  });
  return { op, fail };
}

async function unhandledDuring(run: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => void seen.push(reason);
  process.on('unhandledRejection', listener);
  try {
    await run();
    // Unhandled rejections are reported after the microtask queue drains.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}

describe('onSession', () => {
  it.each([
    ['the wait was stopped already', live, true],
    ['the session has ended already', ended, false],
  ])('a request it gave up on at once (%s) fails later without an unhandled rejection', async (_what, session, aborted) => {
    const stop = new AbortController();
    if (aborted) stop.abort(new Error('stopped'));
    const seen = await unhandledDuring(async () => {
      const { op, fail } = lateFailure();
      await expect(onSession(session, stop.signal, op)).rejects.toThrow(aborted ? 'aborted' : '0x1');
      fail();
    });
    expect(seen).toEqual([]);
  });

  it('a request it follows still rejects with its own error', async () => {
    const { op, fail } = lateFailure();
    const waiting = onSession(live, new AbortController().signal, op);
    fail();
    await expect(waiting).rejects.toThrow('CONNECTION_LOSS');
  });
});
