/**
 * Reading an election's queue: the latch nodes under the latch path, in
 * election order, with what each one holds. Children come and go between
 * our requests; a node that vanished between listing and reading is skipped,
 * and a missing latch path is an empty queue.
 */
import { type CandidateInfo, type LeaderInfo } from '@elect/core';
import { decodePayload } from '@elect/core/backend';
import type { Event, Stat, ZkClient } from './client.js';
import { ZkCode, isZk } from './errors.js';
import { electionOrder, join } from './names.js';

/** The fencing token: the znode's creation zxid, an unsigned 64-bit number. */
export function tokenOf(stat: Stat): bigint {
  return stat.czxid.readBigUInt64BE(0);
}

function infoOf(path: string, data: Buffer, stat: Stat): CandidateInfo {
  const { id, value } = decodePayload(data.toString('utf8'));
  return { id, value, token: tokenOf(stat), key: path };
}

/** The latch nodes' names in election order; `[]` when the latch path does not exist. */
export async function readOrder(client: ZkClient, dir: string, watcher?: (event: Event) => void): Promise<string[]> {
  try {
    return electionOrder(await client.getChildren(dir, watcher));
  } catch (error) {
    if (isZk(error, ZkCode.NoNode)) return [];
    throw error;
  }
}

/** One node's entry, or undefined when it no longer exists. */
export async function readEntry(
  client: ZkClient,
  path: string,
  watcher?: (event: Event) => void,
): Promise<CandidateInfo | undefined> {
  try {
    const { data, stat } = await client.getData(path, watcher);
    return infoOf(path, data, stat);
  } catch (error) {
    if (isZk(error, ZkCode.NoNode)) return undefined;
    throw error;
  }
}

/** Every candidate, in election order. */
export async function readCandidates(client: ZkClient, dir: string): Promise<CandidateInfo[]> {
  const order = await readOrder(client, dir);
  const entries = await Promise.all(order.map((child) => readEntry(client, join(dir, child))));
  return entries.filter((entry): entry is CandidateInfo => entry !== undefined);
}

export interface LeaderWatchers {
  /** Fires when the queue changes (or the latch path is created). */
  children?: (event: Event) => void;
  /** Fires when the leader's node changes or goes. */
  leader?: (event: Event) => void;
}

/**
 * The first candidate, or undefined. With watchers, leaves a watch on the
 * queue (or on the latch path's creation) and on the leader's node, so the
 * caller hears about the next change.
 */
export async function readLeader(client: ZkClient, dir: string, watchers: LeaderWatchers = {}): Promise<LeaderInfo | undefined> {
  for (;;) {
    let order: string[];
    try {
      order = electionOrder(await client.getChildren(dir, watchers.children));
    } catch (error) {
      if (!isZk(error, ZkCode.NoNode)) throw error;
      // No latch path yet: watch for its creation; if it appeared meanwhile, read again.
      if (!watchers.children || (await client.exists(dir, watchers.children)) === null) return undefined;
      continue;
    }
    const first = order[0];
    if (first === undefined) return undefined;
    const entry = await readEntry(client, join(dir, first), watchers.leader);
    if (entry) return entry;
    // The leader left between the two reads; the children watch has fired or will.
  }
}
