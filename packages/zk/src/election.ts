/**
 * One election (one latch path) on a ZooKeeper connection: the core contract.
 * Candidates live in candidate.ts, the leader watch in observer.ts; this file
 * wires them to the connection, turns their changes into events, and cleans
 * up on close.
 */
import zookeeper from 'node-zookeeper-client';
import {
  abortReason,
  type CampaignOptions,
  type CandidateInfo,
  ClosedError,
  type Election,
  type ElectionEvent,
  type HandoverOptions,
  InvalidOptionError,
  type LeaderInfo,
  type Leadership,
  type Logger,
  type SignalOptions,
  TimeoutError,
  sleep,
} from '@elect/core';
import { campaignOptions, Channel, ElectionEvents, encodeRequest, handedOver, handoverOptions, handoverTarget, knownKeys, linkSignals, noneWaiting } from '@elect/core/backend';
import { Candidate, type CandidateContext } from './candidate.js';
import type { Event, ZkClient } from './client.js';
import type { SessionSource } from './source.js';
import { SessionEndedSignal, isRetryable, onSession } from './create.js';
import { ZkCode, isZk } from './errors.js';
import { ancestors, defaultRoot, isEphemeral, join, nestedInTheWay, requestName, type Entry } from './names.js';
import { watchLeader } from './observer.js';
import { openAcl } from './options.js';
import { readCandidates, readIds, readLeader, readQueue } from './queue.js';

export interface ZooKeeperElectionOptions {
  /** Overrides the connection's logger for this election. */
  logger?: Logger;
}

/** Enough to recognise any node of ours a leader reading can still show. */
const OWN_PREFIXES_KEPT = 256;

export class ZooKeeperElection implements Election {
  readonly name: string;
  /** The latch path (`/elect/<name>` for a bare name). */
  readonly path: string;
  private readonly source: SessionSource;
  private readonly ctx: CandidateContext;
  private readonly campaigns = new Map<Candidate, Promise<Leadership>>();
  /** Leaderships that yielded (preempted, asked to hand over) and have not released yet: close() resigns them too. */
  private readonly yielding = new Set<Leadership>();
  /** Name prefixes of the nodes our candidates made, the newest OWN_PREFIXES_KEPT. */
  private readonly ownPrefixes: string[] = [];
  private readonly electionEvents: ElectionEvents;
  private readonly observers = new Set<Channel<LeaderInfo | undefined>>();
  private readonly closing = new AbortController();
  private readonly createdParents = new Set<string>();
  private closed: Promise<void> | undefined;
  private readonly onClosed: () => void;

  constructor(source: SessionSource, name: string, path: string, options: ZooKeeperElectionOptions, onClosed: () => void) {
    knownKeys('election()', options, ['logger']);
    this.name = name;
    this.path = path;
    this.source = source;
    this.onClosed = onClosed;
    const { clock, acl } = source.options;
    const logger = options.logger ?? source.options.logger;
    this.ctx = {
      name,
      source,
      dir: path,
      acl,
      clock,
      logger,
      operationTimeoutMs: source.options.operationTimeoutMs,
      ensureParents: (client) => this.ensureParents(client),
      candidates: () => this.candidates(),
      closed: this.closing.signal,
      changed: (candidate, next, previous) => this.electionEvents.transition(candidate.id, next, previous, candidate.leadership?.signal.reason),
      entering: (prefix) => {
        this.ownPrefixes.push(prefix);
        if (this.ownPrefixes.length > OWN_PREFIXES_KEPT) this.ownPrefixes.shift();
      },
    };
    this.electionEvents = new ElectionEvents({
      leaders: (signal) => this.readings(signal),
      // A node is ours by the uuid in its name, known before its create is
      // sent: a reading may show it before the candidate has its create's
      // answer, or after the candidate let go (a reading taken before its
      // resign deleted the node).
      isOurs: (key) => {
        const name = key.slice(key.lastIndexOf('/') + 1);
        return this.ownPrefixes.some((prefix) => name.startsWith(prefix));
      },
    });
  }

  async campaign(options: CampaignOptions): Promise<Leadership> {
    const { id, value, signal, priority, preempt } = campaignOptions(options);
    if (this.closing.signal.aborted) throw new ClosedError(`the election ${this.name} is closed`);
    // Linked, not AbortSignal.any, and released once the campaign settles (a
    // leadership has its own signal): the caller's signal and ours live on.
    const stop = linkSignals([this.closing.signal, signal]);
    const candidate = new Candidate(this.ctx, id, value, stop.signal, priority === undefined ? undefined : { priority, preempt });
    const run = candidate.run();
    run.then(stop.release, stop.release);
    this.campaigns.set(candidate, run);
    // A candidate stays registered while it leads, so close() can resign it;
    // one that yielded, until it has released (its work may still run).
    run.then(
      (leadership) =>
        leadership.signal.addEventListener(
          'abort',
          () => {
            this.campaigns.delete(candidate);
            const reason = (leadership.signal.reason as { reason?: unknown } | undefined)?.reason;
            if (reason !== 'preempted' && reason !== 'handover') return;
            this.yielding.add(leadership);
            void candidate.released?.then(() => this.yielding.delete(leadership));
          },
          { once: true },
        ),
      () => this.campaigns.delete(candidate),
    );
    return run;
  }

  leader(options: SignalOptions = {}): Promise<LeaderInfo | undefined> {
    return this.read(options, (client) => readLeader(client, this.path));
  }

  candidates(options: SignalOptions = {}): Promise<CandidateInfo[]> {
    return this.read(options, (client) => readCandidates(client, this.path));
  }

  /**
   * Asks the leader of a priority election to hand over to the waiting
   * candidate `to`: writes the request (`<latch path>/handover`, ephemeral on
   * our session) for the leader's term, which the leader answers (priority-leader.ts), and
   * resolves once `to` leads.
   */
  async handover(options: HandoverOptions & { to: string }): Promise<LeaderInfo> {
    const { to, signal } = handoverOptions('handover()', options, true) as { to: string; signal: AbortSignal | undefined };
    if (this.closing.signal.aborted) throw new ClosedError(`the election ${this.name} is closed`);
    // Follow the leader from before the request, so that its change is seen.
    const seen = this.observe(signal ? { signal } : {})[Symbol.asyncIterator]();
    const done = new AbortController();
    const reading = signal ? { signal } : {};
    try {
      const leader = await this.read(reading, (client) => this.ask(client, to));
      if (leader.id === to) return leader;
      const watching = linkSignals([done.signal, this.closing.signal]).signal; // released when `done` aborts, below
      // Each waiting `to` found is watched on the session that found it.
      const find = (): Promise<{ client: ZkClient; path: string } | undefined> =>
        this.read({ signal: watching }, async (client) => {
          const { target } = await this.chosen(client, to);
          return target && { client, path: join(this.path, target.key) };
        });
      const gone = noneWaiting(find, (found) => deletion(found.client, found.path, watching));
      const led = await handedOver({ [Symbol.asyncIterator]: () => seen }, leader, to, { gone, leader: () => this.leader(reading) });
      if (led) return led;
      throw abortReason(signal ?? this.closing.signal, 'The handover');
    } finally {
      done.abort();
      await seen.return?.();
    }
  }

  /** The leader and the waiting candidate `to` would be (undefined: none waits); refuses a plain election, or one nobody leads. */
  private async chosen(client: ZkClient, to: string): Promise<{ leader: LeaderInfo; children: string[]; target: Entry | undefined }> {
    const reading = await readQueue(client, this.path);
    if (!reading.priority) {
      throw new InvalidOptionError('to', `election ${JSON.stringify(this.name)} is not a priority election: it hands over only to the next candidate (resign)`);
    }
    const leader = await readLeader(client, this.path);
    if (!leader) throw new InvalidOptionError('to', `nobody leads election ${JSON.stringify(this.name)}: there is nothing to hand over`);
    const holder = leader.key.slice(leader.key.lastIndexOf('/') + 1);
    const ids = await readIds(client, reading.entries);
    return { leader, children: reading.children, target: handoverTarget(reading.entries, holder, (entry) => ids.get(entry.key) ?? '', to) };
  }

  /** The leader; unless it is `to` already, after writing the request to it (checked first: nothing is written for a bad one). */
  private async ask(client: ZkClient, to: string): Promise<LeaderInfo> {
    const { leader, target, ...read } = await this.chosen(client, to);
    let { children } = read;
    const path = join(this.path, requestName);
    // A nested election's latch path is not ours to replace: refused first, whoever waits.
    const there = children.includes(requestName) ? await client.exists(path) : null;
    if (there && !isEphemeral(there)) throw nestedInTheWay(this.name, requestName);
    if (leader.id === to) return leader;
    if (!target) throw new InvalidOptionError('to', `no candidate ${JSON.stringify(to)} is waiting in election ${JSON.stringify(this.name)}`);
    const data = Buffer.from(encodeRequest({ to, token: leader.token }));
    const { acl } = this.source.options;
    // Created anew (replacing an unanswered one): the leader hears creations
    // through its children watch. Ephemeral: it goes with our session.
    const create = { kind: 'create' as const, path, data, acl, mode: zookeeper.CreateMode.EPHEMERAL };
    for (;;) {
      try {
        const unanswered = children.includes(requestName) ? await client.exists(path) : null;
        if (unanswered && !isEphemeral(unanswered)) throw nestedInTheWay(this.name, requestName);
        await client.multi(unanswered ? [{ kind: 'delete', path, version: unanswered.version }, create] : [create]);
        return leader;
      } catch (error) {
        // Raced by another asker, or the leader answered: read again.
        if (!isZk(error, ZkCode.NodeExists) && !isZk(error, ZkCode.NoNode) && !isZk(error, ZkCode.BadVersion)) throw error;
        children = await client.getChildren(this.path);
      }
    }
  }

  observe(options: SignalOptions = {}): AsyncIterable<LeaderInfo | undefined> {
    if (this.closing.signal.aborted) {
      const channel = new Channel<LeaderInfo | undefined>();
      channel.fail(new ClosedError(`the election ${this.name} is closed`));
      return channel;
    }
    const channel = this.readings(options.signal);
    if (!channel.isEnded) this.observers.add(channel);
    return { [Symbol.asyncIterator]: () => channel[Symbol.asyncIterator]() };
  }

  events(options: SignalOptions = {}): AsyncIterable<ElectionEvent> {
    const channel = this.electionEvents.subscribe(options.signal);
    return { [Symbol.asyncIterator]: () => channel[Symbol.asyncIterator]() };
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing.abort(new ClosedError(`the election ${this.name} is closed`));
    const work = [...this.campaigns].map(async ([candidate, run]) => {
      const leadership = await run.catch(() => undefined);
      if (!leadership) return;
      candidate.leadership?.lose('closed');
      await leadership.resign();
    });
    for (const leadership of this.yielding) work.push(leadership.resign());
    await Promise.allSettled(work);
    for (const channel of this.observers) channel.close();
    this.electionEvents.close();
    await this.tidy().catch(() => {});
    this.onClosed();
  }

  /** Leader readings (observer.ts) until `signal` aborts, the reader stops, or the election closes. */
  private readings(signal?: AbortSignal): Channel<LeaderInfo | undefined> {
    const ended = new AbortController();
    const channel = new Channel<LeaderInfo | undefined>({
      signal,
      onEnd: (gone) => {
        ended.abort();
        this.observers.delete(gone);
      },
    });
    if (channel.isEnded) return channel;
    const watching = linkSignals([ended.signal, this.closing.signal]);
    watchLeader(this.ctx, watching.signal, (leader) => channel.push(leader))
      .then(
        () => channel.close(),
        (error: unknown) => channel.fail(error),
      )
      .finally(watching.release);
    return channel;
  }

  /** One read on a live session, retried through blips within one operation timeout. */
  private async read<T>(options: SignalOptions, op: (client: ZkClient) => Promise<T>): Promise<T> {
    const { clock, operationTimeoutMs } = this.source.options;
    const give = clock.now() + operationTimeoutMs;
    // Linked, not AbortSignal.any: one read must leave nothing on the election's signal (see linkSignals).
    const { signal: stop, release } = linkSignals([this.closing.signal, options.signal]);
    try {
      for (;;) {
        const left = give - clock.now();
        const session = await this.source.session(stop, Math.max(1, left));
        try {
          return await onSession(session, stop, op(session.client));
        } catch (error) {
          if (stop.aborted) throw error;
          const again = error instanceof SessionEndedSignal || isRetryable(error);
          if (!again) throw error;
          if (give - clock.now() <= 0) {
            throw error instanceof SessionEndedSignal ? new TimeoutError(`no answer from ZooKeeper within ${operationTimeoutMs} ms`) : error;
          }
          await sleep(clock, 50, stop);
        }
      }
    } finally {
      release();
    }
  }

  /**
   * Creates the latch path and missing parents (persistent: the library
   * cannot make container nodes). The latch path gets the election's ACL;
   * parents made on the way are open (see the `acl` option).
   */
  private async ensureParents(client: ZkClient): Promise<void> {
    for (const path of [...ancestors(this.path), this.path]) {
      try {
        await client.create(path, Buffer.alloc(0), path === this.path ? this.source.options.acl : openAcl, zookeeper.CreateMode.PERSISTENT);
        this.createdParents.add(path);
      } catch (error) {
        if (!isZk(error, ZkCode.NodeExists)) throw error;
      }
    }
  }

  /**
   * Curator makes the latch path and its parents container nodes, which the
   * server deletes once empty. We cannot, so on close we delete, bottom up,
   * those that are empty and that either this election created or that lie
   * under our own default root. Someone joining at that moment gets NoNode on
   * create and makes them again (as we do, and as Curator does).
   */
  private async tidy(): Promise<void> {
    const session = this.source.current;
    if (!session || session.isEnded) return;
    const ours = (path: string): boolean => this.createdParents.has(path) || path.startsWith(`${defaultRoot}/`) || path === defaultRoot;
    for (const path of [this.path, ...ancestors(this.path).reverse()]) {
      // The latch path is not ours when its create was refused (INVALID_ACL):
      // parents made before it still are, if it is not there.
      if (!ours(path) && !(path === this.path && (await session.client.exists(path).catch(() => undefined)) === null)) return;
      try {
        await session.client.remove(path);
      } catch (error) {
        if (!isZk(error, ZkCode.NoNode)) return; // not empty (or no right to): leave it and everything above
      }
    }
  }
}

/**
 * Resolves with true once the node at `path` is deleted (or is gone
 * already); with false if the watch cannot tell (the session ended) or
 * `done` aborts first. One watcher function for the whole wait: re-arming
 * after a data change adds no listener; one left set goes with the node's
 * next change. A node found missing gets no watch at all.
 */
function deletion(client: ZkClient, path: string, done: AbortSignal): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const stop = (): void => resolve(false);
    done.addEventListener('abort', stop, { once: true });
    const settle = (deleted: boolean): void => {
      done.removeEventListener('abort', stop);
      resolve(deleted);
    };
    const watcher = (event: Event): void => (event.getType() === zookeeper.Event.NODE_DELETED ? settle(true) : arm());
    const arm = (): void => {
      if (done.aborted) return;
      client.getData(path, watcher).then(
        () => {},
        (error: unknown) => settle(isZk(error, ZkCode.NoNode)),
      );
    };
    arm();
  });
}
