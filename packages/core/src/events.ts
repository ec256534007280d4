/**
 * `election.events()` for every backend, once: the mapping from a
 * candidate's transitions to `ElectionEvent`s, and the leader feed. A backend
 * drives transitions and supplies leader readings; what is an event, and
 * when, is decided here.
 *
 * The leader feed follows the backend's readings while anyone listens, and
 * only then (a watch costs the server something): the first reading is the
 * state when listening began, not a change; a change to one of this
 * election's own candidates is reported by that candidate as `elected`, not
 * as `leader`; a reading that repeats the last one is not a change.
 */
import type { CandidateState, ElectionEvent, LeaderInfo } from './contract.js';
import type { LeadershipLostError } from './errors.js';
import { Hub, sameLeader, type Channel } from './stream.js';

export interface LeaderReadings {
  /**
   * The leader now, then on every change the backend sees, until `signal`
   * aborts (then the iteration ends) or the backend gives up (it throws:
   * every listener's loop throws that error).
   */
  leaders(signal: AbortSignal): AsyncIterable<LeaderInfo | undefined>;
  /** Whether `key` is the entry of one of this election's own candidates. */
  isOurs(key: string): boolean;
}

/** The event a candidate's transition is, if any. `loss` is why leadership ended, for a move to `lost`. */
export function transitionEvent(
  id: string,
  next: CandidateState,
  previous: CandidateState,
  loss?: LeadershipLostError,
): ElectionEvent | undefined {
  if (next.kind === 'leader' && previous.kind === 'campaigning') return { type: 'elected', id, token: next.token };
  if (next.kind === 'leader' && previous.kind === 'suspended') return { type: 'resumed' };
  if (next.kind === 'suspended') return { type: 'suspended', deadline: next.deadline };
  if (next.kind === 'lost' && (previous.kind === 'leader' || previous.kind === 'suspended') && loss !== undefined) {
    return { type: 'lost', id, token: previous.token, reason: next.reason, error: loss };
  }
  return undefined;
}

export class ElectionEvents {
  private readonly hub = new Hub<ElectionEvent>({ onIdle: () => this.feed?.abort() });
  private feed: AbortController | undefined;
  /** No more `leader` events (the election is closing); candidates' events still come. */
  private feedEnded = false;
  private ended = false;

  constructor(private readonly readings: LeaderReadings) {}

  /** One listener's events; the leader feed runs while there is at least one. */
  subscribe(signal?: AbortSignal): Channel<ElectionEvent> {
    const channel = this.hub.subscribe(signal);
    if (this.ended) channel.close();
    else if (!channel.isEnded && !this.feedEnded) this.startFeed();
    return channel;
  }

  /** A candidate moved from `previous` to `next` (see `transitionEvent`). */
  transition(id: string, next: CandidateState, previous: CandidateState, loss?: LeadershipLostError): void {
    const event = transitionEvent(id, next, previous, loss);
    if (event) this.hub.emit(event);
  }

  /** No more `leader` events: the election is closing (its candidates' last events still come). */
  endFeed(): void {
    this.feedEnded = true;
    this.feed?.abort();
  }

  /** Ends every listener's stream (the election closed) and the feed. */
  close(): void {
    this.endFeed();
    this.ended = true;
    this.hub.close();
  }

  /** Every listener's loop throws `error` (after what it has buffered). */
  fail(error: unknown): void {
    this.hub.fail(error);
  }

  private startFeed(): void {
    if (this.feed && !this.feed.signal.aborted) return;
    const feed = new AbortController();
    this.feed = feed;
    void (async () => {
      let last: { leader: LeaderInfo | undefined } | undefined;
      try {
        for await (const leader of this.readings.leaders(feed.signal)) {
          if (feed.signal.aborted) break;
          const previous = last;
          last = { leader };
          if (previous === undefined || sameLeader(previous.leader, leader)) continue;
          if (leader !== undefined && this.readings.isOurs(leader.key)) continue;
          this.hub.emit({ type: 'leader', leader });
        }
      } catch (error) {
        if (!feed.signal.aborted) this.hub.fail(error);
      } finally {
        feed.abort();
        if (this.feed === feed) this.feed = undefined;
      }
    })();
  }
}
