/**
 * Protected create (Curator's `withProtection()`, kazoo's uuid prefix): the
 * candidate node's name starts with `_c_<uuid>-`, chosen before the first
 * attempt. When the reply to a create is lost (connection loss), we cannot
 * know whether the server created the node — so we list the children and look
 * for our prefix before creating again. A node is never duplicated, and
 * never left behind as an orphan that nobody owns.
 *
 * We never give up on a create that may still be queued in the library
 * (sent after a reconnect): we wait for its outcome, or for the session to
 * end (which takes the node with it). A second create with the same uuid is
 * only sent once the first has failed.
 */
import { randomUUID } from 'node:crypto';
import zookeeper from 'node-zookeeper-client';
import { abortReason, type Clock, type Logger, Backoff } from '@elect/core';
import { encodePayload } from '@elect/core/backend';
import type { ACL, ZkClient } from './client.js';
import { ZkCode, isZk } from './errors.js';
import { electionOrder, join, protectedPrefix } from './names.js';
import type { Session } from './session.js';

export interface CreateContext {
  readonly dir: string;
  readonly acl: ACL[];
  readonly clock: Clock;
  readonly logger: Logger;
  /** Creates the latch path and its parents (persistent). */
  ensureParents(client: ZkClient): Promise<void>;
}

/** A candidate node of ours, bound to the session that created it. */
export interface OwnNode {
  readonly session: Session;
  readonly prefix: string;
  readonly name: string;
  readonly path: string;
}

/** Thrown into waits when the session they run on has ended. */
export class SessionEndedSignal extends Error {
  override name = 'SessionEndedSignal';
}

/**
 * Rejects when `session` ends or `stop` aborts, whichever comes first; else
 * follows `op`. Whichever comes first, `op` is followed to its end: a request
 * still in flight when we stop waiting for it fails once the client closes,
 * and that failure, which nobody waits for any more, must not go unhandled
 * (it would end the process).
 */
export function onSession<T>(session: Session, stop: AbortSignal, op: Promise<T>): Promise<T> {
  op.catch(() => {});
  return new Promise<T>((resolve, reject) => {
    if (stop.aborted) return reject(abortReason(stop));
    if (session.isEnded) return reject(new SessionEndedSignal(session.id));
    const release: Array<() => void> = [];
    const done = (): void => release.forEach((fn) => fn());
    const onAbort = (): void => {
      done();
      reject(abortReason(stop));
    };
    stop.addEventListener('abort', onAbort, { once: true });
    release.push(() => stop.removeEventListener('abort', onAbort));
    const off = session.liveness.onStatus((status) => {
      if (status.kind !== 'ended') return;
      done();
      reject(new SessionEndedSignal(session.id));
    });
    release.push(() => void off());
    op.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error as Error);
      },
    );
  });
}

/**
 * Runs `op` on `session` through blips: an error `isRetryable` cures (a lost
 * connection, a slow answer) is retried with backoff while `go()` holds, the
 * session lives, `stop` has not aborted and attempts are left. Resolves with
 * `{ value }`, or with undefined once it stops trying; rejects with an error
 * retrying does not cure, unless the session ended meanwhile (what was ours
 * goes with it, and its end is reported where the session is followed).
 */
export async function throughBlips<T>(
  session: Session,
  op: (client: ZkClient) => Promise<T>,
  how: { clock: Clock; stop?: AbortSignal; go?: () => boolean; attempts?: number; initialMs?: number; maxMs?: number },
): Promise<{ value: T } | undefined> {
  const stop = how.stop ?? new AbortController().signal;
  const backoff = new Backoff({ initialMs: how.initialMs ?? 50, maxMs: how.maxMs ?? 1000 });
  for (let attempt = 0; attempt < (how.attempts ?? Infinity); attempt += 1) {
    if (stop.aborted || session.isEnded || (how.go && !how.go())) return undefined;
    try {
      return { value: await onSession(session, stop, op(session.client)) };
    } catch (error) {
      if (stop.aborted || session.isEnded) return undefined;
      if (!isRetryable(error)) throw error;
      await backoff.wait(how.clock, stop).catch(() => {});
    }
  }
  return undefined;
}

/**
 * Creates our node on `session`, or finds the one an earlier attempt created;
 * `tag` is a priority entry's (core's `priorityTag`).
 * `pending` is told about every create that is in flight, so that a caller
 * giving up can still clean up after it (see `withdraw`).
 */
export async function createProtected(
  ctx: CreateContext,
  session: Session,
  payload: { id: string; value: string },
  stop: AbortSignal,
  pending: (create: Promise<string>, prefix: string) => void,
  tag?: string,
): Promise<OwnNode> {
  const client = session.client;
  const prefix = protectedPrefix(randomUUID(), tag);
  const data = Buffer.from(encodePayload(payload.id, payload.value));
  const backoff = new Backoff({ maxMs: 1000 });
  let search = false;
  for (;;) {
    if (search) {
      try {
        const found = await onSession(session, stop, findOwn(client, ctx.dir, prefix));
        if (found) {
          ctx.logger.info({ event: 'protected-create-found', path: join(ctx.dir, found) });
          return { session, prefix, name: found, path: join(ctx.dir, found) };
        }
        search = false;
      } catch (error) {
        if (!isRetryable(error)) throw error;
        await backoff.wait(ctx.clock, stop);
        continue;
      }
    }
    const create = client.createUntimed(join(ctx.dir, prefix), data, ctx.acl, zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL);
    pending(create, prefix);
    try {
      const path = await onSession(session, stop, create);
      const name = path.slice(path.lastIndexOf('/') + 1);
      return { session, prefix, name, path: join(ctx.dir, name) };
    } catch (error) {
      if (isZk(error, ZkCode.NoNode)) {
        // The latch path is missing (never made, or removed when empty as
        // Curator's container nodes are): make it and try again.
        await onSession(session, stop, ctx.ensureParents(client));
      } else if (isZk(error, ZkCode.ConnectionLoss)) {
        search = true;
      } else {
        throw error;
      }
    }
  }
}

/** The name of our node (by protected prefix); extra copies, if a late create ever made one, are deleted. */
export async function findOwn(client: ZkClient, dir: string, prefix: string): Promise<string | undefined> {
  let children: string[];
  try {
    children = await client.getChildren(dir);
  } catch (error) {
    if (isZk(error, ZkCode.NoNode)) return undefined;
    throw error;
  }
  const ours = electionOrder(children.filter((child) => child.startsWith(prefix)));
  for (const extra of ours.slice(1)) await removeQuietly(client, join(dir, extra));
  return ours[0];
}

/** Deletes a node; "already gone" is success. */
export async function removeQuietly(client: ZkClient, path: string): Promise<void> {
  try {
    await client.remove(path);
  } catch (error) {
    if (!isZk(error, ZkCode.NoNode)) throw error;
  }
}

/** Worth another attempt on the same session (a blip, a slow answer). */
export function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;
}
