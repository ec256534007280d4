/**
 * What a leader of a priority election does beyond a plain one (leader.ts):
 * it leads while the record names its entry, so it guards the record (a data
 * watch: gone or changed → 'deleted'); it follows the queue (a children
 * watch, held by the leader alone) and yields to a preempting candidate or
 * to a handover asked for through `election.handover()`; it hands over by
 * marking the record for the chosen candidate and touching that one's entry
 * (a waiting candidate watches its own); and its release deletes the record
 * (only while it is ours: its czxid is our token) with its entry, in one
 * transaction.
 */
import { type Clock, InvalidOptionError, type Logger, type LossReason } from '@elect/core';
import { decodeRequest, encodeRecord, handoverTarget, type LeadershipHandle, linkSignals, type Passage, preemptor } from '@elect/core/backend';
import type { Event } from './client.js';
import { onSession, removeQuietly, throughBlips, type OwnNode } from './create.js';
import { ZkCode, isZk } from './errors.js';
import { isEphemeral, join, queueEntries, recordName, requestName, type Entry } from './names.js';
import { touch, type RecordClaim } from './priority-turn.js';
import { readChildren, readIds, readRecord, tokenOf } from './queue.js';
import { Wake } from './wake.js';

export interface RecordHoldOptions {
  /** The election's name (for errors). */
  readonly name: string;
  readonly dir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly id: string;
  /** Aborts when the election closes: a handover then stops waiting to be taken. */
  readonly closed: AbortSignal;
  /** Ends the leadership (logged by the caller). */
  lose(reason: LossReason): void;
}

export class RecordHold {
  readonly token: bigint;
  private readonly node: OwnNode;
  private readonly claim: RecordClaim;
  private readonly options: RecordHoldOptions;
  private readonly recordPath: string;
  private handle: LeadershipHandle | undefined;
  /** A queue reading is under way; `again` asks it for one more. */
  private following = false;
  private again = false;
  private readonly queueWatcher = (): void => this.queueChanged();

  constructor(claim: RecordClaim, options: RecordHoldOptions) {
    this.claim = claim;
    this.node = claim.node;
    this.options = options;
    this.token = tokenOf(claim.stat);
    this.recordPath = join(options.dir, recordName);
  }

  /** Starts guarding the record and following the queue for `handle`. */
  start(handle: LeadershipHandle): void {
    this.handle = handle;
    this.claim.watch.route((event) => this.onRecordEvent(event));
    this.queueChanged();
  }

  private get leading(): boolean {
    return this.handle?.isLeader === true && !this.node.session.isEnded;
  }

  /** The record changed or went: still ours only if it names us, unchanged in creation, with no handover. */
  private onRecordEvent(event: Event): void {
    if (!this.leading) return;
    if (event.getType() === 2 /* NODE_DELETED */) return this.options.lose('deleted');
    void this.retrying(async () => {
      const now = await readRecord(this.node.session.client, this.options.dir, (next) => this.onRecordEvent(next));
      if (!now || tokenOf(now.stat) !== this.token || now.record.holder !== this.node.name || now.record.to !== undefined) {
        this.options.lose('deleted');
      }
    });
  }

  private queueChanged(): void {
    if (!this.leading) return;
    if (this.following) {
      this.again = true;
      return;
    }
    this.following = true;
    void this.retrying(async () => {
      do {
        this.again = false;
        await this.readQueue();
      } while (this.again && this.leading);
    }).finally(() => (this.following = false));
  }

  /** One reading of the queue (re-arming its watch): a preemptor, or a handover asked for, makes us yield. */
  private async readQueue(): Promise<void> {
    const handle = this.handle as LeadershipHandle;
    const { client } = this.node.session;
    const { dir, clock } = this.options;
    const children = await readChildren(client, dir, this.queueWatcher);
    const entries = queueEntries(dir, children);
    if (preemptor(entries, this.node.name)) {
      handle.yieldTo('preempted', undefined, clock, handle.timeoutMs);
      return;
    }
    if (!children.includes(requestName)) return;
    const requestPath = join(dir, requestName);
    let request;
    try {
      request = await client.getData(requestPath);
    } catch (error) {
      if (isZk(error, ZkCode.NoNode)) return;
      throw error;
    }
    const asked = isEphemeral(request.stat) ? decodeRequest(request.data.toString('utf8')) : undefined;
    // Not a request (a nested election's latch path, say): not ours to delete.
    if (!asked) return;
    // A request for another term (or one nobody can answer) is stale: it goes too.
    const target = asked.token === this.token ? await this.target(entries, asked.to) : undefined;
    try {
      await client.remove(requestPath, request.stat.version);
    } catch (error) {
      if (isZk(error, ZkCode.NoNode)) return;
      if (isZk(error, ZkCode.BadVersion)) return void (this.again = true); // rewritten meanwhile: read it again
      throw error;
    }
    if (target) handle.yieldTo('handover', asked.to, clock, handle.timeoutMs);
  }

  /** The waiting entry a handover to the candidate `id` goes to (undefined: the first waiting one). */
  private async target(entries: readonly Entry[], id: string | undefined): Promise<Entry | undefined> {
    const ids = await readIds(this.node.session.client, entries);
    return handoverTarget(entries, this.node.name, (entry) => ids.get(entry.key) ?? '', id);
  }

  /**
   * See `LeadershipBackend.handover`: find `to` (else reject, leadership
   * unchanged), lose, mark the record for it with `why`, touch its entry,
   * wait (at most one session timeout) until it took over, then
   * `release`.
   */
  async handover(to: string | undefined, lose: () => void, why: Passage, release: () => Promise<void>): Promise<void> {
    const { client } = this.node.session;
    const target = await onSession(this.node.session, never, this.findTarget(to));
    if (!target) {
      const whom = to === undefined ? 'candidate' : `candidate ${JSON.stringify(to)}`;
      throw new InvalidOptionError('to', `no ${whom} is waiting in election ${JSON.stringify(this.options.name)}`);
    }
    lose();
    try {
      const record = await client.getData(this.recordPath);
      const ours = tokenOf(record.stat) === this.token;
      if (ours) {
        await client.setData(this.recordPath, Buffer.from(encodeRecord({ holder: this.node.name, to: target.key, why })), record.stat.version);
        // What it waits on may be stale by now; its own entry is not.
        await touch(client, target.path);
        await this.takenOver(target);
      }
    } catch (error) {
      // Gone, changed, or unreachable: the release below decides what is left.
      this.options.logger.debug({ event: 'handover-incomplete', id: this.options.id, err: error });
    }
    await release();
  }

  private async findTarget(to: string | undefined): Promise<Entry | undefined> {
    const { client } = this.node.session;
    return this.target(queueEntries(this.options.dir, await readChildren(client, this.options.dir)), to);
  }

  /**
   * Resolves once the record no longer hands over to `target`, `target` is
   * gone, a session timeout passed, or the election closed (then the release
   * deletes the record, and the first in the wait order takes it).
   */
  private async takenOver(target: Entry): Promise<void> {
    const { session } = this.node;
    const limit = new AbortController();
    const cancel = this.options.clock.schedule(() => limit.abort(), this.handle?.timeoutMs ?? 0);
    const stop = linkSignals([limit.signal, this.options.closed]);
    try {
      for (;;) {
        const wake = new Wake(session, stop.signal);
        let waiting: boolean;
        try {
          const record = await readRecord(session.client, this.options.dir, wake.watcher);
          waiting = record?.record.to === target.key && (await session.client.exists(target.path, wake.watcher)) !== null;
        } catch (error) {
          wake.cancel(); // its listener on the session would stay until the session ends
          throw error;
        }
        if (!waiting) return wake.cancel();
        if ((await wake.reason) !== 'watch') return;
      }
    } finally {
      cancel();
      stop.release();
    }
  }

  /**
   * Deletes the record while it is ours, and our entry, in one transaction;
   * our entry alone when the record is another's (or gone). The record is
   * ours while its czxid is our token (no other session can have created
   * that node); its delete is guarded by the version just read, not by one
   * remembered (a handover's mark whose answer was lost changed it).
   */
  async release(): Promise<void> {
    const { client } = this.node.session;
    for (;;) {
      const record = await readRecord(client, this.options.dir);
      if (!record || tokenOf(record.stat) !== this.token) return removeQuietly(client, this.node.path);
      try {
        await client.multi([
          { kind: 'delete', path: this.recordPath, version: record.stat.version },
          { kind: 'delete', path: this.node.path, version: -1 },
        ]);
        return;
      } catch (error) {
        const failed = (error as { op?: number }).op;
        if (isZk(error, ZkCode.NoNode) && failed === 1) {
          // Our entry is gone already: the record alone.
          await client.remove(this.recordPath, record.stat.version).catch(() => {});
        } else if (!isZk(error, ZkCode.NoNode) && !isZk(error, ZkCode.BadVersion)) {
          throw error;
        }
      }
    }
  }

  /**
   * Runs `op` through blips while we lead. An error that retrying does not
   * cure (no right to read, say) ends the leadership: a leader that cannot
   * see its record or its queue can follow neither a loss nor a preemption.
   */
  private async retrying(op: () => Promise<void>): Promise<void> {
    const how = { clock: this.options.clock, stop: this.handle?.signal ?? never, go: () => this.leading };
    await throughBlips(this.node.session, op, how).catch((error: unknown) => {
      // Stopped or ended meanwhile (not leading any more): nothing to give up.
      if (!this.leading) return;
      this.options.logger.warn({ event: 'guard-failed', id: this.options.id, err: error });
      this.options.lose('deleted');
    });
  }
}

const never = new AbortController().signal;
