/**
 * The wait of a priority campaign (core's `priorityStep`): read the queue
 * and the record; wait for the entry just ahead of ours in priority order
 * (its deletion, or a change of its data: a handover's nudge), or — first
 * in order — for the record to change or go; take the record when it is
 * free (or handed over to us); lead once it names our entry. One candidate
 * wakes per change, as in the plain wait (turn.ts).
 */
import zookeeper from 'node-zookeeper-client';
import { abortReason } from '@elect/core';
import { LogEvent, encodeRecord, priorityStep, takenOver } from '@elect/core/backend';
import type { ACL, MultiOp, Stat } from './client.js';
import { SessionEndedSignal, findOwn, onSession, type OwnNode } from './create.js';
import { ZkCode, isZk } from './errors.js';
import { NodeWatch } from './leader.js';
import { join, recordName } from './names.js';
import { readQueue, readRecord } from './queue.js';
import type { Session } from './session.js';
import type { TurnContext } from './turn.js';
import { Wake } from './wake.js';

export interface PriorityTurnContext extends TurnContext {
  readonly acl: ACL[];
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
  for (;;) {
    const reading = await onSession(session, stop, readQueue(client, dir));
    const mine = reading.entries.filter((entry) => entry.key.startsWith(node.prefix));
    if (mine.length > 1 || (mine.length === 1 && mine[0]?.key !== node.name)) {
      // A create we thought lost landed after all (see turn.ts): keep the earliest.
      const kept = await onSession(session, stop, findOwn(client, dir, node.prefix));
      if (kept !== undefined && kept !== node.name) {
        node = { ...node, name: kept, path: join(dir, kept) };
        ctx.moved(node);
      }
      logger.warn({ event: 'duplicate-node', id, kept });
      continue;
    }
    const step = priorityStep(ctx.name, reading.entries, reading.record?.record, node.name);
    if (step.kind === 'gone') {
      logger.info({ event: 'node-gone', id, path: node.path });
      return undefined;
    }
    if (step.kind === 'mixed') throw step.error;
    if (step.kind === 'wait' || step.kind === 'wait-record') {
      const target = step.kind === 'wait' ? step.ahead.path : recordPath;
      const wake = new Wake(session, stop);
      const watched = await onSession(session, stop, watchData(client, target, wake.watcher)).catch((error: unknown) => {
        wake.cancel();
        throw error;
      });
      // A handover rewrites the record before it nudges the entry we watch:
      // a record other than the one we read means the nudge may have come
      // before our watch did. Read again rather than wait.
      const record = step.kind === 'wait-record' ? watched : watched && (await onSession(session, stop, client.exists(recordPath)));
      if (watched === null || !sameNode(record ?? null, reading.record?.stat ?? null)) {
        wake.cancel();
        continue;
      }
      const reason = await wake.reason;
      if (reason === 'stop') throw abortReason(stop);
      logger.debug({ event: LogEvent.Wake, id, reason, predecessor: target });
      if (reason === 'session') throw new SessionEndedSignal(session.id);
      continue;
    }
    // Taken over, the record keeps how leadership passed (`via`).
    const mark = step.kind === 'take-over' && reading.record ? takenOver(node.name, reading.record.record) : { holder: node.name };
    const data = Buffer.from(encodeRecord(mark));
    const create: MultiOp = { kind: 'create', path: recordPath, data, acl: ctx.acl, mode: zookeeper.CreateMode.EPHEMERAL };
    const ownExists: MultiOp = { kind: 'check', path: node.path, version: -1 };
    try {
      if (step.kind === 'take') {
        // Only if nobody holds it and our entry is still there.
        await onSession(session, stop, client.multi([ownExists, create]));
      } else if (step.kind === 'take-over' && reading.record) {
        // The record hands leadership to us: replace it, as read.
        const replaced: MultiOp = { kind: 'delete', path: recordPath, version: reading.record.stat.version };
        await onSession(session, stop, client.multi([ownExists, replaced, create]));
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
async function watchData(client: Session['client'], path: string, watcher: () => void): Promise<Stat | null> {
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
