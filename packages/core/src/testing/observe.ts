/**
 * `observe()` for the in-memory backend: a server watch whose notifications
 * each carry the leader right after one change, so a reachable observer sees
 * every change once and in order. While the connection is cut notifications
 * are lost; on healing the observer re-reads and yields the leader if it
 * changed meanwhile (intermediate changes during a cut are not replayed).
 */
import type { LeaderInfo } from '../contract.js';
import { ClosedError, ErrorCode, isElectError } from '../errors.js';
import { Channel, sameLeader } from '../stream.js';
import type { ConnectionLink } from './link.js';

/**
 * Ends normally when `signal` aborts or `electionClosed` aborts; throws
 * `ClosedError` from the consumer's loop when the connection closes under it.
 * `ended` is told when it ends, however it ends.
 */
export function observeLeader(
  conn: ConnectionLink,
  name: string,
  signal: AbortSignal | undefined,
  electionClosed: AbortSignal,
  ended: () => void = () => {},
): AsyncIterable<LeaderInfo | undefined> {
  let cancelWatch: () => void = () => {};
  let offConnection: () => void = () => {};
  const onElectionClosed = (): void => channel.close();
  const channel = new Channel<LeaderInfo | undefined>({
    signal,
    onEnd: () => {
      cancelWatch();
      offConnection();
      electionClosed.removeEventListener('abort', onElectionClosed);
      ended();
    },
  });
  if (channel.isEnded) return channel;
  if (electionClosed.aborted) {
    channel.close();
    return channel;
  }
  if (conn.isClosed) {
    channel.fail(new ClosedError('the connection is closed: cannot observe'));
    return channel;
  }

  let last: { leader: LeaderInfo | undefined } | undefined;
  const offer = (leader: LeaderInfo | undefined): void => {
    if (last && sameLeader(last.leader, leader)) return;
    last = { leader };
    channel.push(leader);
  };
  const subscribe = (): void => {
    cancelWatch();
    try {
      const watch = conn.callSync((store) => store.watchLeader(name, conn.deliver, offer));
      cancelWatch = watch.cancel;
      offer(watch.leader);
    } catch (error) {
      // Unreachable: the next `resync` subscribes again. Anything else is fatal.
      if (!isElectError(error) || error.code !== ErrorCode.Connection) channel.fail(error);
    }
  };
  offConnection = conn.on((event) => {
    if (event.type === 'closed') channel.fail(new ClosedError('the connection was closed: observe cannot go on'));
    else if (event.type === 'resync') subscribe();
  });
  electionClosed.addEventListener('abort', onElectionClosed, { once: true });
  subscribe();
  return channel;
}
