/**
 * `Election` on etcd: one election name on one connection. Candidates,
 * observers and event listeners share the connection's lease and members.
 *
 * One key per lease per election, as in Go (`name/<lease hex>`): a connection
 * holds at most one campaign or leadership in each election at a time. A
 * second concurrent `campaign()` on the same connection and name is rejected
 * with `InvalidOptionError` (option `campaign`) before anything is written;
 * run a second candidate on a second connection (as a second process would).
 * A campaign after the previous one ended is fine (that is what
 * `runWhileLeader`'s rejoin does).
 */
import {
  ClosedError,
  Hub,
  InvalidOptionError,
  abortReason,
  campaignOptions,
  knownKeys,
  readOptions,
  type CampaignOptions,
  type CandidateInfo,
  type Channel,
  type Election,
  type ElectionEvent,
  type LeaderInfo,
  type Leadership,
  type Clock,
  type Logger,
  type SignalOptions,
} from '@elect/core';
import { Candidate } from './candidate.js';
import type { Endpoints } from './endpoints.js';
import { electionName, type KeySpace } from './keys.js';
import { ElectionKV, toCandidate } from './kv.js';
import { holdProcess, holding } from './hold.js';
import { observeLeaders } from './observe.js';
import type { Session } from './session.js';

/** What an election needs from its connection. */
export interface ConnectionCore {
  readonly endpoints: Endpoints;
  readonly keys: KeySpace;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The campaign in progress per election name (wire prefix): one key per lease per election. */
  readonly slots: Map<string, Candidate>;
  session(signal: AbortSignal): Promise<Session>;
  forget(election: EtcdElection): void;
  /** Whether a candidate key is on one of this connection's leases. */
  owns(key: string): boolean;
}

export interface EtcdElectionOptions {
  /** Overrides the connection's logger for this election. */
  logger?: Logger;
}

export class EtcdElection implements Election {
  readonly name: string;
  private readonly kv: ElectionKV;
  private readonly logger: Logger;
  private readonly closer = new AbortController();
  private readonly hub = new Hub<ElectionEvent>();
  private readonly mine = new Set<Candidate>();
  private feed: AbortController | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly conn: ConnectionCore,
    name: string,
    options: EtcdElectionOptions = {},
  ) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'must be an object');
    knownKeys('election', options, ['logger']);
    this.name = electionName(name);
    this.logger = options.logger ?? conn.logger;
    this.kv = new ElectionKV(conn.endpoints, conn.keys, this.name);
  }

  async campaign(options: CampaignOptions): Promise<Leadership> {
    const { id, value, signal } = campaignOptions(options);
    if (this.closing) throw new ClosedError(`election ${this.name} is closed`);
    if (signal?.aborted) throw abortReason(signal, `${id}: the campaign`);
    const slot = this.conn.keys.wire(this.kv.prefix).toString('hex');
    const previous = this.conn.slots.get(slot);
    if (previous?.active) {
      throw new InvalidOptionError(
        'campaign',
        `this connection already campaigns or leads in election "${this.name}" (as "${previous.id}"); ` +
          'etcd elections use one key per lease, so open another connection for another candidate',
      );
    }
    const candidate = new Candidate(this.context(), id, value, signal);
    this.conn.slots.set(slot, candidate);
    this.mine.add(candidate);
    const release = holdProcess();
    try {
      return await candidate.campaign(previous?.cleanup);
    } finally {
      release();
    }
  }

  async leader(options?: SignalOptions): Promise<LeaderInfo | undefined> {
    const { entries } = await this.read(() => this.kv.list(1), readOptions('leader()', options));
    return entries[0] && toCandidate(entries[0]);
  }

  async candidates(options?: SignalOptions): Promise<CandidateInfo[]> {
    const { entries } = await this.read(() => this.kv.list(), readOptions('candidates()', options));
    return entries.map(toCandidate);
  }

  observe(options?: SignalOptions): AsyncIterable<LeaderInfo | undefined> {
    const signal = readOptions('observe()', options);
    return holding(observeLeaders(this.context(), AbortSignal.any([this.closer.signal, ...(signal ? [signal] : [])])));
  }

  events(options?: SignalOptions): AsyncIterable<ElectionEvent> {
    const channel: Channel<ElectionEvent> = this.hub.subscribe(readOptions('events()', options));
    if (!this.closing) this.startFeed();
    return holding(channel);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closer.abort(new ClosedError(`election ${this.name} is closed`));
      this.feed?.abort();
      await Promise.all([...this.mine].map((c) => c.close()));
      this.hub.close();
      this.conn.forget(this);
    })();
    return this.closing;
  }

  private context(): ConstructorParameters<typeof Candidate>[0] {
    return {
      name: this.name,
      kv: this.kv,
      keys: this.conn.keys,
      endpoints: this.conn.endpoints,
      logger: this.logger,
      clock: this.conn.clock,
      closed: this.closer.signal,
      session: (signal) => this.conn.session(signal),
      emit: (event) => this.hub.emit(event),
    };
  }

  /** 'leader' events come from an internal observer that runs while anyone listens. */
  private startFeed(): void {
    if (this.feed) return;
    const feed = new AbortController();
    this.feed = feed;
    void (async () => {
      let first = true;
      try {
        for await (const leader of observeLeaders(this.context(), AbortSignal.any([feed.signal, this.closer.signal]))) {
          if (this.hub.size === 0) break;
          // The first reading is the state, not a change; our own election is
          // reported as `elected`. A key is ours by its lease: a reading may
          // show it before our candidate has its create's answer, or after
          // the candidate let go (a reading taken before its resign).
          const ours = leader !== undefined && this.conn.owns(leader.key);
          if (!first && !ours) this.hub.emit({ type: 'leader', leader });
          first = false;
        }
      } catch (error) {
        this.hub.fail(error);
      } finally {
        feed.abort();
        if (this.feed === feed) this.feed = undefined;
      }
    })();
  }

  private async read<T>(call: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (this.closing) throw new ClosedError(`election ${this.name} is closed`);
    if (!signal) return await call();
    if (signal.aborted) throw abortReason(signal);
    let onAbort = (): void => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(abortReason(signal));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([call(), aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}
