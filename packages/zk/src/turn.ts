/**
 * The predecessor wait of Curator's LeaderLatch and kazoo's election: read
 * the queue; if our node is first, our turn has come; otherwise watch only
 * the node just before ours, and read the whole queue again when anything
 * wakes us (the predecessor went, the session ended). One candidate wakes
 * per departure: no herd.
 */
import { abortReason, type Logger } from '@elect/core';
import { LogEvent, mixedLayout } from '@elect/core/backend';
import type { ZkClient } from './client.js';
import { SessionEndedSignal, findOwn, onSession, type OwnNode } from './create.js';
import { ZkCode, isZk } from './errors.js';
import { electionOrder, join } from './names.js';
import { readQueue } from './queue.js';
import type { Session } from './session.js';
import { Wake } from './wake.js';

export interface TurnContext {
  /** The election's name (for errors). */
  readonly name: string;
  readonly dir: string;
  readonly stop: AbortSignal;
  readonly logger: Logger;
  /** Our candidate's id, for the log. */
  readonly id: string;
  /** Our node is another than we thought (a create we thought lost landed first): the caller must clean up that one. */
  moved(node: OwnNode): void;
}

/**
 * Resolves with our node once it is first in the queue, or undefined when it
 * is gone. Rejects with `SessionEndedSignal` when the session ends while we
 * wait, and with the reason of `stop` when it aborts.
 */
export async function waitForTurn(session: Session, own: OwnNode, ctx: TurnContext): Promise<OwnNode | undefined> {
  const { dir, stop, logger, id } = ctx;
  const client = session.client;
  let node = own;
  for (;;) {
    const { children, entries, record } = await onSession(session, stop, readQueue(client, dir));
    // A priority election (older tagged entries, a record) is not ours to
    // join; a newer tagged entry is that campaign's mistake, not ours.
    const mixed = mixedLayout(ctx.name, entries, record && !record.foreign ? record.record : undefined, node.name);
    if (mixed) throw mixed;
    const order = electionOrder(children);
    const mine = order.filter((child) => child.startsWith(node.prefix));
    if (mine.length > 1 || (mine.length === 1 && mine[0] !== node.name)) {
      // Two nodes with our uuid: a create we thought lost landed after all.
      // Keep the earliest (it holds our place), delete the rest, read again.
      const kept = await onSession(session, stop, findOwn(client, dir, node.prefix));
      if (kept !== undefined && kept !== node.name) {
        node = { ...node, name: kept, path: join(dir, kept) };
        ctx.moved(node);
      }
      logger.warn({ event: 'duplicate-node', id, kept, dropped: mine.filter((child) => child !== kept) });
      continue;
    }
    const index = order.indexOf(node.name);
    if (index < 0) {
      logger.info({ event: 'node-gone', id, path: node.path });
      return undefined;
    }
    if (index === 0) return node;
    const predecessor = join(dir, order[index - 1] as string);
    const wake = new Wake(session, stop);
    const watching = await onSession(session, stop, watchNode(client, predecessor, wake.watcher)).catch((error: unknown) => {
      wake.cancel();
      throw error;
    });
    if (!watching) {
      wake.cancel(); // the predecessor left already: read again
      continue;
    }
    const reason = await wake.reason;
    // A stop ends the wait without re-reading: not a wake in the herd sense.
    if (reason === 'stop') throw abortReason(stop);
    logger.debug({ event: LogEvent.Wake, id, reason, predecessor });
    if (reason === 'session') throw new SessionEndedSignal(session.id);
  }
}

/** Sets a watch on an existing node (getData: a missing node leaves no watch behind). False when it is gone. */
export async function watchNode(client: ZkClient, path: string, watcher: () => void): Promise<boolean> {
  try {
    await client.getData(path, watcher);
    return true;
  } catch (error) {
    if (isZk(error, ZkCode.NoNode)) return false;
    throw error;
  }
}
