/**
 * `Election` on etcd: one election name on one connection. Candidates,
 * observers and event listeners share the connection's lease and members.
 *
 * A candidate's key is `name/<lease hex>`, as in Go and etcdctl. Go allows
 * one per lease; we allow any number of concurrent campaigns on one
 * connection: each takes a slot — the lowest one no running campaign of this
 * connection holds in this election — and slot n > 0 writes
 * `name/<lease hex>-<n>`. Go and etcdctl peers queue with those keys like
 * any other (they order by create revision). A slot is free once its
 * candidate neither campaigns nor holds a key (a leadership that yielded
 * holds its key until it resigns); one freed by a resign is reused only
 * after that resign's delete is done.
 *
 * A campaign with a priority makes a priority election, whose keys carry the
 * priority and whose leader is named by a record (see priority.ts); every
 * read decides which layout it found.
 */
import {
  ClosedError,
  InvalidOptionError,
  abortReason,
  type CampaignOptions,
  type CandidateInfo,
  type Election,
  type ElectionEvent,
  type LeaderInfo,
  type Leadership,
  type Clock,
  type HandoverOptions,
  type Logger,
  type SignalOptions,
} from '@elect/core';
import { type Channel, ElectionEvents, campaignOptions, encodeRequest, handedOver, handoverOptions, handoverTarget, knownKeys, linkSignals, noneWaiting, readOptions } from '@elect/core/backend';
import { Candidate } from './candidate.js';
import type { Endpoints } from './endpoints.js';
import { electionName, type KeySpace } from './keys.js';
import { ElectionKV, toCandidate } from './kv.js';
import { holdProcess, holding } from './hold.js';
import { observeLeaders } from './observe.js';
import { watch, type WatchScope } from './watch.js';
import { candidatesOf, idOf, isPriority, leaderOf, notWaiting, ranked, readingOf } from './priority.js';
import type { Session } from './session.js';

/** What an election needs from its connection. */
export interface ConnectionCore {
  readonly endpoints: Endpoints;
  readonly keys: KeySpace;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Per election (wire prefix), the last candidate in each slot (see the file comment). */
  readonly slots: Map<string, Candidate[]>;
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
  private readonly mine = new Set<Candidate>();
  /** 'leader' events come from an observer that runs while anyone listens; a key is ours by its lease. */
  private readonly electionEvents = new ElectionEvents({
    leaders: (signal) => this.leaderFeed(signal),
    isOurs: (key) => this.conn.owns(key),
  });
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
    const { id, value, signal, priority, preempt } = campaignOptions(options);
    if (this.closing) throw new ClosedError(`election ${this.name} is closed`);
    if (signal?.aborted) throw abortReason(signal, `${id}: the campaign`);
    const wire = this.conn.keys.wire(this.kv.prefix).toString('hex');
    const slots = this.conn.slots.get(wire) ?? [];
    this.conn.slots.set(wire, slots);
    const free = slots.findIndex((holder) => !holder.busy);
    const slot = free < 0 ? slots.length : free;
    const previous = slots[slot];
    const candidate = new Candidate(this.context(), id, value, signal, slot, priority === undefined ? undefined : { priority, preempt });
    slots[slot] = candidate;
    this.mine.add(candidate);
    const release = holdProcess();
    try {
      return await candidate.campaign(previous);
    } finally {
      release();
    }
  }

  async leader(options?: SignalOptions): Promise<LeaderInfo | undefined> {
    const signal = readOptions('leader()', options);
    const { entries } = await this.read(() => this.kv.list(1), signal);
    const first = entries[0];
    // The oldest key leads a plain election; anything else means a priority election: read all of it.
    if (!first || (ranked(first).priority === undefined && first.key !== this.kv.recordKey && first.key !== this.kv.requestKey)) return first && toCandidate(first);
    const { revision, entries: all } = await this.read(() => this.kv.list(), signal);
    return leaderOf(readingOf(this.kv, revision, all));
  }

  async candidates(options?: SignalOptions): Promise<CandidateInfo[]> {
    const { revision, entries } = await this.read(() => this.kv.list(), readOptions('candidates()', options));
    return candidatesOf(readingOf(this.kv, revision, entries));
  }

  async handover(options: HandoverOptions & { to: string }): Promise<LeaderInfo> {
    const { to, signal } = handoverOptions('handover()', options, true) as { to: string; signal: AbortSignal | undefined };
    if (this.closing) throw new ClosedError(`election ${this.name} is closed`);
    if (signal?.aborted) throw abortReason(signal, 'The handover');
    // Linked, not AbortSignal.any: a call must leave nothing on the election's signal (see linkSignals).
    const linked = linkSignals([this.closer.signal, signal]);
    const stop = linked.signal;
    // Follow the leader from before the request, so that its change is seen.
    const seen = observeLeaders(this.context(), stop);
    const done = new AbortController();
    try {
      // The request names the leader's term; written only while that term lasts (else read again).
      let asked: LeaderInfo | undefined;
      while (!asked) {
        const { revision, entries } = await this.read(() => this.kv.list(), signal);
        const reading = readingOf(this.kv, revision, entries);
        if (!isPriority(reading)) {
          throw new InvalidOptionError('to', `election ${JSON.stringify(this.name)} is not a priority election: it hands over only to the next candidate (resign)`);
        }
        const leader = leaderOf(reading);
        if (!leader) throw new InvalidOptionError('to', `nobody leads election ${JSON.stringify(this.name)}: there is nothing to hand over`);
        if (leader.id === to) return leader;
        if (!handoverTarget(reading.entries, leader.key, idOf, to)) throw notWaiting(to, this.name);
        // On our lease: the request goes with us (the session opens now if there is none yet).
        const session = await this.conn.session(stop);
        const written = await this.read(() => this.kv.request(encodeRequest({ to, token: leader.token }), leader.token, session.leaseId), signal);
        if (written) asked = leader;
      }
      const watching = linkSignals([stop, done.signal]).signal; // released when `done` aborts, below
      // Each waiting `to` found is watched from the reading that found it.
      const find = async (): Promise<{ key: string; revision: bigint } | undefined> => {
        const { revision, entries } = await this.read(() => this.kv.list(), watching);
        const reading = readingOf(this.kv, revision, entries);
        const target = handoverTarget(reading.entries, leaderOf(reading)?.key ?? '', idOf, to);
        return target && { key: target.key, revision };
      };
      const gone = noneWaiting(find, (found) => deleted(this.context(), found.key, found.revision + 1n, watching));
      const led = await handedOver(seen, asked, to, { gone, leader: () => this.leader({ signal: stop }) });
      if (led) return led;
      throw abortReason(signal ?? this.closer.signal, 'The handover');
    } finally {
      done.abort();
      seen.close();
      linked.release();
    }
  }

  observe(options?: SignalOptions): AsyncIterable<LeaderInfo | undefined> {
    return holding(this.leaderFeed(readOptions('observe()', options)));
  }

  /** Leader readings until `signal` aborts, the reader stops, or the election closes; nothing is left on either signal once it ends. */
  private leaderFeed(signal: AbortSignal | undefined): Channel<LeaderInfo | undefined> {
    const linked = linkSignals([this.closer.signal, signal]);
    return observeLeaders(this.context(), linked.signal, linked.release);
  }

  events(options?: SignalOptions): AsyncIterable<ElectionEvent> {
    return holding(this.electionEvents.subscribe(readOptions('events()', options)));
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closer.abort(new ClosedError(`election ${this.name} is closed`));
      this.electionEvents.endFeed();
      await Promise.all([...this.mine].map((c) => c.close()));
      this.electionEvents.close();
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
      candidates: () => this.candidates(),
      transition: (id, next, previous, loss) => this.electionEvents.transition(id, next, previous, loss),
    };
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

/** Resolves with true once `key` is deleted at or after `fromRevision`; with false if the watch ends first (stopped, or it cannot tell). */
async function deleted(scope: WatchScope & { keys: KeySpace }, key: string, fromRevision: bigint, signal: AbortSignal): Promise<boolean> {
  try {
    for await (const batch of watch(scope, { key: scope.keys.wire(key), fromRevision, deletesOnly: true, signal })) {
      if (batch.events.some((e) => e.type === 'delete')) return true;
    }
  } catch {
    // Compacted, or refused: the leader feed still decides.
  }
  return false;
}
