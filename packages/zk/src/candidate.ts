/**
 * One campaign: join the queue with a protected node, wait for the immediate
 * predecessor only, re-read the queue on every wake, and lead only when our
 * node is first *and* owned by our live session.
 *
 * When the session ends while we wait, the node went (or goes) with it: the
 * campaign re-enters on the connection's next session with a fresh node. A
 * blip within the session changes nothing: the node is still ours.
 *
 * A priority campaign tags its node and waits in priority order for the
 * record instead (priority-turn.ts); it leads once the record names it.
 */
import { abortReason, type CandidateInfo, type CandidateState, type Clock, type Logger, Backoff, sleep } from '@elect/core';
import { candidateStateMachine, type LeadershipHandle, LogEvent, priorityTag, type StateMachine } from '@elect/core/backend';
import type { ZkClient } from './client.js';
import type { SessionSource } from './source.js';
import {
  SessionEndedSignal,
  createProtected,
  findOwn,
  isRetryable,
  onSession,
  removeQuietly,
  throughBlips,
  type CreateContext,
  type OwnNode,
} from './create.js';
import { ZkCode, isZk } from './errors.js';
import { HeldLeadership, NodeWatch } from './leader.js';
import { join, recordName } from './names.js';
import { waitForRecord, type RecordClaim } from './priority-turn.js';
import { readRecord } from './queue.js';
import type { Session } from './session.js';
import { waitForTurn } from './turn.js';

export interface CandidateContext extends CreateContext {
  /** The election's name (for errors). */
  readonly name: string;
  readonly source: SessionSource;
  readonly operationTimeoutMs: number;
  /** Every state change of this candidate (the election turns them into events). */
  changed(candidate: Candidate, next: CandidateState, previous: CandidateState): void;
  /** The name prefix (protected-create uuid) of a node of ours, before its create is sent. */
  entering(prefix: string): void;
  /** The election's candidates (`Election.candidates()`). */
  candidates(): Promise<CandidateInfo[]>;
  /** Aborts when the election closes. */
  readonly closed: AbortSignal;
}

/** A priority campaign's rank. */
export interface Rank {
  readonly priority: number;
  readonly preempt: boolean;
}

export class Candidate {
  readonly id: string;
  readonly state: StateMachine<CandidateState>;
  private readonly value: string;
  private readonly ctx: CandidateContext;
  private readonly stop: AbortSignal;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private node: OwnNode | undefined;
  /** Creates that may still land, per session: `withdraw` cleans up after them. */
  private readonly pending: Array<{ session: Session; create: Promise<string>; prefix: string }> = [];
  private held: HeldLeadership | undefined;
  private readonly rank: Rank | undefined;
  /** The record while it names our node and no leadership holds it yet: `withdraw` deletes it. */
  private claim: RecordClaim | undefined;
  /** Our node is new and not read yet (a priority campaign's first reading touches the candidate behind it). */
  private fresh = false;
  /** A take of the record was sent: giving up, `withdraw` deletes a record that names our entry (its answer may not have come). */
  private took = false;

  constructor(ctx: CandidateContext, id: string, value: string, stop: AbortSignal, rank?: Rank) {
    this.ctx = ctx;
    this.id = id;
    this.value = value;
    this.stop = stop;
    this.rank = rank;
    this.clock = ctx.clock;
    this.logger = ctx.logger;
    this.state = candidateStateMachine((next, previous) => ctx.changed(this, next, previous));
  }

  get leadership(): LeadershipHandle | undefined {
    return this.held?.handle;
  }

  /** Resolves once the leadership we hold (held) has released what it held on the server. */
  get released(): Promise<void> | undefined {
    return this.held?.released;
  }

  /** Our node's path while we have one. */
  get key(): string | undefined {
    return this.held?.handle.key ?? this.node?.path;
  }

  /** Resolves with the leadership; rejects (after removing our node) on abort, close or a non-retryable error. */
  async run(): Promise<LeadershipHandle> {
    this.state.transition({ kind: 'campaigning' });
    const backoff = new Backoff({ maxMs: 1000 });
    try {
      for (;;) {
        const session = await this.ctx.source.session(this.stop);
        try {
          if (this.node?.session !== session) {
            this.node = await this.enter(session);
            this.fresh = true;
          }
          const turn = {
            name: this.ctx.name,
            dir: this.ctx.dir,
            stop: this.stop,
            logger: this.logger,
            id: this.id,
            moved: (node: OwnNode) => (this.node = node),
          };
          let held: HeldLeadership | undefined;
          if (this.rank) {
            const fresh = (): boolean => {
              const was = this.fresh;
              this.fresh = false;
              return was;
            };
            const refresh = (): void => void (this.fresh = true);
            const taking = (): void => void (this.took = true);
            this.claim = await waitForRecord(session, this.node, { ...turn, acl: this.ctx.acl, fresh, refresh, taking });
            held = this.claim && (await this.confirm(session, this.claim.node, this.claim));
            if (!held) await this.dropClaim();
            this.claim = undefined;
          } else {
            const first = await waitForTurn(session, this.node, turn);
            held = first && (await this.confirm(session, first));
          }
          if (held) return held.handle;
          this.node = undefined; // gone or not ours: re-enter with a fresh node
        } catch (error) {
          if (this.stop.aborted) throw abortReason(this.stop);
          if (session.isEnded || error instanceof SessionEndedSignal) continue;
          if (!isRetryable(error)) throw error;
          this.logger.debug({ event: 'campaign-retry', id: this.id, err: error });
          await backoff.wait(this.clock, this.stop);
        }
      }
    } catch (error) {
      await this.withdraw();
      if (this.state.can('idle')) this.state.transition({ kind: 'idle' });
      throw this.stop.aborted ? abortReason(this.stop, 'The campaign') : error;
    }
  }

  private enter(session: Session): Promise<OwnNode> {
    const tag = this.rank && priorityTag(this.rank.priority, this.rank.preempt);
    const value = { id: this.id, value: this.value };
    return createProtected(this.ctx, session, value, this.stop, (create, prefix) => {
      this.ctx.entering(prefix);
      const entry = { session, create, prefix };
      this.pending.push(entry);
      const settle = (): void => {
        const at = this.pending.indexOf(entry);
        if (at >= 0) this.pending.splice(at, 1);
      };
      create.then(settle, settle);
    }, tag);
  }

  /**
   * First in the queue (or named by the record, `claim`): lead only if the
   * node is still there and owned by this very session.
   */
  private async confirm(session: Session, node: OwnNode, claim?: RecordClaim): Promise<HeldLeadership | undefined> {
    const watch = new NodeWatch();
    const stat = await onSession(session, this.stop, session.client.exists(node.path, watch.watcher));
    if (stat === null) return undefined;
    if (!stat.ephemeralOwner.equals(session.client.sessionIdBytes)) {
      this.logger.warn({ event: 'stale-node', id: this.id, path: node.path, owner: stat.ephemeralOwner.toString('hex') });
      return undefined;
    }
    const held = new HeldLeadership(node, stat, watch, {
      id: this.id,
      value: this.value,
      clock: this.clock,
      operationTimeoutMs: this.ctx.operationTimeoutMs,
      logger: this.logger,
      record: claim && { claim, name: this.ctx.name, dir: this.ctx.dir, closed: this.ctx.closed },
      candidates: () => this.ctx.candidates(),
      onLost: (error) => {
        if (this.state.can('lost')) this.state.transition({ kind: 'lost', reason: error.reason });
      },
    });
    if (!held.handle.isLeader) return undefined;
    this.held = held;
    this.logger.info({ event: LogEvent.Elected, id: this.id, path: node.path, token: String(held.handle.token) });
    this.state.transition({ kind: 'leader', token: held.handle.token });
    held.follow(this.state);
    return held;
  }

  /**
   * Removes whatever this campaign may have on the server: the node we know,
   * and any create still in flight (once it lands). On an ended session there
   * is nothing to do: the node goes with the session.
   */
  private async withdraw(): Promise<void> {
    const known = this.node;
    this.node = undefined;
    const took = this.took;
    this.took = false;
    const work: Promise<void>[] = [this.dropClaim()];
    if (known && !known.session.isEnded) {
      work.push(
        this.removeOn(known.session, async (client) => {
          // A take that was in flight when we gave up may have landed: its
          // record, on our live session, would name a deleted entry and hold
          // the election until the session ends.
          if (took) await dropRecordOf(client, this.ctx.dir, known.name);
          await removeQuietly(client, known.path);
        }),
      );
    }
    for (const { session, create, prefix } of this.pending.splice(0)) {
      // Whenever it lands — even after we gave up waiting — delete it.
      const landed = create.then((path) => this.removeOn(session, (client) => removeQuietly(client, path)));
      const lost = create.then(
        () => undefined,
        (error: unknown) =>
          isZk(error, ZkCode.ConnectionLoss) ? this.removeOn(session, (client) => removeByPrefix(client, this.ctx.dir, prefix)) : undefined,
      );
      work.push(Promise.race([Promise.all([landed, lost]).then(() => {}), sleep(this.clock, this.ctx.operationTimeoutMs)]).catch(() => {}));
    }
    await Promise.allSettled(work);
  }

  /** Deletes the record a claim of ours made that no leadership holds (guarded: only that very record). */
  private async dropClaim(): Promise<void> {
    const claim = this.claim;
    this.claim = undefined;
    if (!claim || claim.node.session.isEnded) return;
    const path = join(this.ctx.dir, recordName);
    await this.removeOn(claim.node.session, async (client) => {
      try {
        await client.remove(path, claim.stat.version);
      } catch (error) {
        if (!isZk(error, ZkCode.NoNode) && !isZk(error, ZkCode.BadVersion)) throw error;
      }
    });
  }

  /** Runs a cleanup write on `session` through blips, for at most a few operation timeouts. */
  private async removeOn(session: Session, write: (client: ZkClient) => Promise<void>): Promise<void> {
    await throughBlips(session, write, { clock: this.clock, attempts: 5, initialMs: 100, maxMs: 1600 }).catch((error: unknown) =>
      this.logger.warn({ event: 'cleanup-failed', id: this.id, err: error }),
    );
  }
}

/** Deletes the record if it is on our session and names our entry `name` (guarded by the version read). */
async function dropRecordOf(client: ZkClient, dir: string, name: string): Promise<void> {
  const record = await readRecord(client, dir);
  if (!record || record.foreign || record.record.holder !== name || !record.stat.ephemeralOwner.equals(client.sessionIdBytes)) return;
  try {
    await client.remove(join(dir, recordName), record.stat.version);
  } catch (error) {
    if (!isZk(error, ZkCode.NoNode) && !isZk(error, ZkCode.BadVersion)) throw error;
  }
}

async function removeByPrefix(client: ZkClient, dir: string, prefix: string): Promise<void> {
  const name = await findOwn(client, dir, prefix);
  if (name !== undefined) await removeQuietly(client, join(dir, name));
}
