/**
 * The ZooKeeper side of a leadership we hold: it ends when our node is
 * deleted (a watch on it), when the session ends for whatever reason
 * (expired, loss deadline, close), or on resign. It also does the two writes
 * only the leader may do: proclaim (setData guarded by the node's version)
 * and remove. A leader of a priority election also holds the record
 * (priority-leader.ts): its token is the record's, and its removal takes the
 * record with it.
 */
import {
  type CandidateInfo,
  type CandidateState,
  type Clock,
  type LeadershipLostError,
  type Logger,
  type LossReason,
  NotLeaderError,
  sleep,
} from '@elect/core';
import { encodePayload, followSession, LeadershipHandle, type Passage, type StateMachine } from '@elect/core/backend';
import type { Event, Stat } from './client.js';
import { removeQuietly, throughBlips, type OwnNode } from './create.js';
import { ZkCode, isZk } from './errors.js';
import { RecordHold } from './priority-leader.js';
import type { RecordClaim } from './priority-turn.js';
import { tokenOf } from './queue.js';

export interface HeldOptions {
  id: string;
  value: string;
  clock: Clock;
  operationTimeoutMs: number;
  logger: Logger;
  onLost: (error: LeadershipLostError) => void;
  /** A priority election's: the record that names us, the election's name and latch path, and its signal that closing aborts. */
  record?: { claim: RecordClaim; name: string; dir: string; closed: AbortSignal } | undefined;
  /** A plain election's queue, in election order (a handover goes to the next one only). */
  candidates: () => Promise<CandidateInfo[]>;
}

/**
 * Routes our own node's watch to whoever holds the leadership once it exists.
 * The watch is set by the confirming `exists`, before an `await`; the library
 * delivers a notification that arrives in the same socket read as that reply
 * synchronously, before the awaiting code runs. So events that come before
 * `route` are kept and handed over by it: none between "confirmed first" and
 * "watching" is lost.
 */
export class NodeWatch {
  private target: ((event: Event) => void) | undefined;
  private readonly early: Event[] = [];
  readonly watcher = (event: Event): void => {
    if (this.target) this.target(event);
    else this.early.push(event);
  };
  route(target: (event: Event) => void): void {
    this.target = target;
    for (const event of this.early.splice(0)) target(event);
  }
}

export class HeldLeadership {
  readonly handle: LeadershipHandle;
  private version: number;
  private writes: Promise<unknown> = Promise.resolve();
  private stopWatching: () => void = () => {};
  private readonly node: OwnNode;
  private readonly options: HeldOptions;
  private readonly hold: RecordHold | undefined;
  private onReleased: () => void = () => {};
  /** Resolves once `remove()` has done its work (our node, and the record, are gone or go with the session). */
  readonly released = new Promise<void>((resolve) => (this.onReleased = resolve));

  constructor(node: OwnNode, stat: Stat, watch: NodeWatch, options: HeldOptions) {
    this.node = node;
    this.options = options;
    this.version = stat.version;
    const { record } = options;
    const hold = record && new RecordHold(record.claim, { ...record, clock: options.clock, logger: options.logger, id: options.id, lose: (reason) => this.lose(reason) });
    this.hold = hold;
    this.handle = new LeadershipHandle({
      id: options.id,
      value: options.value,
      token: hold ? hold.token : tokenOf(stat),
      key: node.path,
      deadline: node.session.liveness.deadline,
      backend: {
        remove: () => this.remove(),
        proclaim: (value) => this.proclaim(value),
        ...(hold
          ? { handover: (to: string | undefined, lose: () => void, why: Passage) => hold.handover(to, lose, why, () => this.remove()) }
          : { candidates: () => options.candidates() }),
      },
      onLost: (error) => {
        this.stopWatching();
        options.onLost(error);
      },
    });
    watch.route((event) => this.onNodeEvent(event));
    const status = node.session.liveness.status;
    if (status.kind === 'ended') this.lose(status.reason);
    if (this.handle.isLeader) hold?.start(this.handle);
  }

  /** Once the candidate leads: its state follows the session, and an ended session ends the leadership. */
  follow(machine: StateMachine<CandidateState>): void {
    this.stopWatching = followSession(this.node.session.liveness, machine, (reason) => this.lose(reason));
    if (!this.handle.isLeader) this.stopWatching(); // lost at once, before there was anything to stop
  }

  private lose(reason: LossReason): boolean {
    const lost = this.handle.lose(reason);
    if (lost) this.options.logger.warn({ event: 'lost', id: this.options.id, reason, path: this.node.path });
    return lost;
  }

  /**
   * Our node is gone (an operator forcing a failover deletes it). A plain
   * leader's node hands leadership on by going; in a priority election the
   * record must go too, at once, without waiting for `resign()`.
   */
  private deleted(): void {
    if (this.lose('deleted') && this.hold) void this.remove().catch(() => {});
  }

  private onNodeEvent(event: Event): void {
    if (!this.handle.isLeader) return;
    if (event.getType() === 2 /* NODE_DELETED */) {
      this.deleted();
      return;
    }
    // Data changed (our own proclaim): watches fire once, so set it again.
    void this.rewatch();
  }

  private async rewatch(): Promise<void> {
    const watched = await throughBlips(this.node.session, (client) => client.exists(this.node.path, (event) => this.onNodeEvent(event)), {
      clock: this.options.clock,
      stop: this.handle.signal,
      go: () => this.handle.isLeader,
    }).catch(() => undefined);
    if (watched?.value === null) this.deleted();
  }

  /**
   * Deletes our node (and the record while it is ours). Retries through blips; resolves once it is gone, or
   * once the session has ended: the node goes with its session. A session
   * given up at the deadline may still live on the server; the connection
   * closes it (ZooKeeperConnection.closeStale) and we wait for that, for at
   * most one operation timeout.
   */
  async remove(): Promise<void> {
    const { session } = this.node;
    const removed = await throughBlips(session, (client) => (this.hold ? this.hold.release() : removeQuietly(client, this.node.path)), { clock: this.options.clock });
    if (!removed) await Promise.race([session.retired, sleep(this.options.clock, this.options.operationTimeoutMs)]);
    this.onReleased();
  }

  /** Writes are serialised so each one carries the version the previous one produced. */
  proclaim(value: string): Promise<void> {
    const write = this.writes.then(() => this.write(value));
    this.writes = write.catch(() => {});
    return write;
  }

  private async write(value: string): Promise<void> {
    const { session, path } = this.node;
    const data = Buffer.from(encodePayload(this.options.id, value));
    for (let attempt = 0; ; attempt += 1) {
      if (!this.handle.isLeader || session.isEnded) throw new NotLeaderError(`${this.options.id} is no longer the leader`);
      try {
        this.version = (await session.client.setData(path, data, this.version)).version;
        return;
      } catch (error) {
        if (isZk(error, ZkCode.NoNode)) {
          this.deleted();
          throw new NotLeaderError(`${this.options.id} is no longer the leader: its node is gone`, { cause: error });
        }
        // An earlier write that timed out may have landed after all: re-read
        // the version of our own node (only our session can own it) once.
        if (!isZk(error, ZkCode.BadVersion) || attempt > 0) throw error;
        const stat = await session.client.exists(path);
        if (stat === null || !stat.ephemeralOwner.equals(session.client.sessionIdBytes)) {
          this.deleted();
          throw new NotLeaderError(`${this.options.id} is no longer the leader: its node is gone`, { cause: error });
        }
        this.version = stat.version;
      }
    }
  }
}
