/**
 * The wait of a priority campaign (core's `priorityStep`): read the queue
 * and the record; wait for the entry just ahead of ours in the wait order
 * (core's `waitOrder`: priority order without the holder) to go, or — first
 * in that order — for the record to change or go; take the record when it
 * is free (or handed over to us); lead once it names our entry. A waiting
 * candidate also watches its own entry: another candidate touches it
 * (rewrites its data unchanged) when it sorts in just ahead of us, and so
 * does a handover to us. One candidate wakes per change, as in the plain
 * wait (turn.ts).
 */
import zookeeper from 'node-zookeeper-client';
import { abortReason } from '@elect/core';
import { LogEvent, behind, encodeRecord, priorityStep, takenOver } from '@elect/core/backend';
import type { ACL, Event, MultiOp, Stat, ZkClient } from './client.js';
import { SessionEndedSignal, findOwn, onSession, type OwnNode } from './create.js';
import { ZkCode, isZk } from './errors.js';
import { NodeWatch } from './leader.js';
import { isEphemeral, join, nestedInTheWay, recordName } from './names.js';
import { readQueue, readRecord, type QueueReading } from './queue.js';
import type { Session } from './session.js';
import type { TurnContext } from './turn.js';
import { Wake } from './wake.js';

export interface PriorityTurnContext extends TurnContext {
  readonly acl: ACL[];
  /** True once per entry, on its first reading: a fresh entry touches the candidate it sorted in ahead of. */
  fresh(): boolean;
  /** That touch failed: the entry is fresh again for the next reading. */
  refresh(): void;
  /** A take (or take-over) of ours is in flight: if the campaign gives up now, the record may name our entry (candidate.ts). */
  taking(): void;
}

/** The record names our entry: its stat (the token is its czxid) and the data watch that guards it from now on. */
export interface RecordClaim {
  readonly node: OwnNode;
  readonly stat: Stat;
  readonly watch: NodeWatch;
}

/**
 * Resolves with our claim once the record names our entry, or undefined when
 * our entry is gone. Rejects with the `MixedLayoutError` of a queue with
 * plain entries, with `SessionEndedSignal` when the session ends while we
 * wait, and with the reason of `stop` when it aborts.
 */
export async function waitForRecord(session: Session, own: OwnNode, ctx: PriorityTurnContext): Promise<RecordClaim | undefined> {
  const { dir, stop, logger, id } = ctx;
  const client = session.client;
  const recordPath = join(dir, recordName);
  let node = own;
  // One watcher function each for our entry and for what we wait on, for
  // the whole wait: the client registers a watch on a path once per
  // function, so re-reading adds no listener for a watch that has not fired
  // yet (see observer.ts). They wake whichever round is waiting.
  let wake: Wake | undefined;
  let touched = false;
  /** What this round waits on: the entry ahead of us, or the record — for its deletion. */
  let target = '';
  const onOwn = (): void => {
    // Only a touch that wakes the round says what woke it.
    if (wake && !wake.isDone) touched = true;
    wake?.watcher();
  };
  const onAhead = (event: Event): void => {
    const current = wake;
    if (!current || current.isDone || event.getPath() !== target) return; // a watch of an earlier round
    const type = event.getType();
    const replaced = type === zookeeper.Event.NODE_DELETED && target === recordPath;
    if (type !== zookeeper.Event.NODE_DATA_CHANGED && !replaced) return current.watcher();
    // The entry ahead was touched, or it proclaims; the record was marked for
    // a handover (its target is touched itself), or replaced by the one it
    // was handed to (delete and create in one transaction: it is there
    // again, and we are still first — whoever else passed us touched us):
    // not a departure. Watch it again, silently; gone, it wakes us.
    void watchData(client, target, onAhead).then(
      // Only a record (ephemeral) in the record's place keeps us waiting; a
      // persistent node there is a nested election's: read again (refused).
      (stat) => (stat === null || (replaced && !isEphemeral(stat))) && current.watcher(),
      () => current.watcher(), // unsure: read again
    );
  };
  for (;;) {
    touched = false;
    // Nothing is waited on until this round has read: a late event of the
    // last round's watch (the record going, say) must not wake this one.
    target = '';
    const round = new Wake(session, stop);
    wake = round;
    let reading: QueueReading | undefined;
    try {
      // Our entry is watched before the queue is read: a touch after this
      // wakes us, and one before it came from a candidate the reading shows.
      if (await onSession(session, stop, watchData(client, node.path, onOwn))) reading = await onSession(session, stop, readQueue(client, dir));
    } catch (error) {
      round.cancel();
      throw error;
    }
    if (!reading) {
      round.cancel();
      logger.info({ event: 'node-gone', id, path: node.path });
      return undefined;
    }
    const mine = reading.entries.filter((entry) => entry.key.startsWith(node.prefix));
    if (mine.length > 1 || (mine.length === 1 && mine[0]?.key !== node.name)) {
      round.cancel();
      // A create we thought lost landed after all (see turn.ts): keep the earliest.
      const kept = await onSession(session, stop, findOwn(client, dir, node.prefix));
      if (kept !== undefined && kept !== node.name) {
        node = { ...node, name: kept, path: join(dir, kept) };
        ctx.moved(node);
      }
      logger.warn({ event: 'duplicate-node', id, kept });
      continue;
    }
    if (reading.record?.foreign && !isEphemeral(reading.record.stat)) {
      round.cancel();
      throw nestedInTheWay(ctx.name, recordName);
    }
    const record = reading.record?.record;
    const step = priorityStep(ctx.name, reading.entries, record, node.name);
    const fresh = ctx.fresh();
    if (step.kind !== 'wait' && step.kind !== 'wait-record') round.cancel();
    if (step.kind === 'gone') {
      logger.info({ event: 'node-gone', id, path: node.path });
      return undefined;
    }
    if (step.kind === 'mixed') throw step.error;
    try {
      // New in the queue, we may have sorted in just ahead of a waiting
      // candidate: touched, it re-reads and waits on us instead.
      const next = fresh && (step.kind === 'wait' || step.kind === 'wait-record' || step.kind === 'take') ? behind(reading.entries, record, node.name) : undefined;
      if (next) {
        await onSession(session, stop, touch(client, next.path)).catch((error: unknown) => {
          ctx.refresh(); // not touched: the next reading tries again
          throw error;
        });
      }
      if (step.kind === 'wait' || step.kind === 'wait-record') {
        target = step.kind === 'wait' ? step.ahead.path : recordPath;
        const watched = await onSession(session, stop, watchData(client, target, onAhead));
        // Gone already, or the record is not the one we read: read again.
        if (watched === null || (target === recordPath && !sameNode(watched, reading.record?.stat ?? null))) {
          round.cancel();
          continue;
        }
        logger.debug({ event: LogEvent.Waiting, id, key: node.path, on: target });
        const reason = await round.reason;
        if (reason === 'stop') throw abortReason(stop);
        logger.debug({ event: LogEvent.Wake, id, reason, predecessor: target, ...(touched ? { touched } : {}) });
        if (reason === 'session') throw new SessionEndedSignal(session.id);
        continue;
      }
    } catch (error) {
      round.cancel();
      throw error;
    }
    // Taken over, the record keeps how leadership passed (`via`).
    const mark = step.kind === 'take-over' && reading.record ? takenOver(node.name, reading.record.record) : { holder: node.name };
    const data = Buffer.from(encodeRecord(mark));
    const create: MultiOp = { kind: 'create', path: recordPath, data, acl: ctx.acl, mode: zookeeper.CreateMode.EPHEMERAL };
    const ownExists: MultiOp = { kind: 'check', path: node.path, version: -1 };
    ctx.taking();
    try {
      if (step.kind === 'take') {
        // Only if nobody holds it and our entry is still there.
        await onSession(session, stop, client.multi([ownExists, create]));
      } else if (step.kind === 'take-over' && reading.record) {
        // The record hands leadership to us: replace it, as read.
        const replaced: MultiOp = { kind: 'delete', path: recordPath, version: reading.record.stat.version };
        await onSession(session, stop, client.multi([ownExists, replaced, create]));
        // The candidate behind us waited on our entry, a holder's now: it re-reads.
        const next = behind(reading.entries, reading.record.record, node.name);
        if (next) {
          await onSession(session, stop, touch(client, next.path)).catch((error: unknown) => {
            if (stop.aborted || session.isEnded) throw error;
            logger.debug({ event: 'touch-failed', id, path: next.path, err: error });
          });
        }
      }
    } catch (error) {
      // Our entry went, or the record changed meanwhile: read again.
      if (isZk(error, ZkCode.NoNode) || isZk(error, ZkCode.NodeExists) || isZk(error, ZkCode.BadVersion)) continue;
      throw error;
    }
    // The token is the record's creation zxid: read it, with the watch that
    // guards the leadership, and make sure the record is ours.
    const watch = new NodeWatch();
    const claimed = await onSession(session, stop, readRecord(client, dir, watch.watcher));
    if (
      claimed &&
      claimed.record.holder === node.name &&
      claimed.record.to === undefined &&
      claimed.stat.ephemeralOwner.equals(client.sessionIdBytes)
    ) {
      return { node, stat: claimed.stat, watch };
    }
  }
}

/** Sets a data watch (change or deletion) on an existing node; its stat, or null when it is gone (no watch left behind). */
async function watchData(client: ZkClient, path: string, watcher: (event: Event) => void): Promise<Stat | null> {
  try {
    return (await client.getData(path, watcher)).stat;
  } catch (error) {
    if (isZk(error, ZkCode.NoNode)) return null;
    throw error;
  }
}

/** The same node, unchanged (or both absent). */
function sameNode(a: Stat | null, b: Stat | null): boolean {
  return a === null || b === null ? a === b : a.czxid.equals(b.czxid) && a.mzxid.equals(b.mzxid);
}

/**
 * Touches a candidate's entry: rewrites its data unchanged, guarded by the
 * version just read, so that its data watch fires; never recreates it.
 */
export async function touch(client: ZkClient, path: string): Promise<void> {
  try {
    const { data, stat } = await client.getData(path);
    await client.setData(path, data, stat.version);
  } catch (error) {
    // Gone (its watcher woke) or changed (its watcher woke as well).
    if (!isZk(error, ZkCode.NoNode) && !isZk(error, ZkCode.BadVersion)) throw error;
  }
}
