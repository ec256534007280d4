/**
 * Reading an election's queue: the latch nodes under the latch path, in
 * election order, with what each one holds. Children come and go between
 * our requests; a node that vanished between listing and reading is skipped,
 * and a missing latch path is an empty queue.
 *
 * Each reading decides the layout for itself: a record or a tagged entry
 * makes it a priority election (core's priority.ts), read in that order,
 * with the leader named by the record; otherwise it is Curator's.
 */
import { type CandidateInfo, type LeaderInfo } from '@elect/core';
import { candidateOrder, decodePayload, decodeRecord, recordHolder, type LeaderRecord } from '@elect/core/backend';
import type { Event, Stat, ZkClient } from './client.js';
import { ZkCode, isZk } from './errors.js';
import { electionOrder, isEphemeral, isPriorityLayout, join, queueEntries, recordName, type Entry } from './names.js';

/** The fencing token: the znode's creation zxid, an unsigned 64-bit number. */
export function tokenOf(stat: Stat): bigint {
  return stat.czxid.readBigUInt64BE(0);
}

function infoOf(path: string, data: Buffer, stat: Stat): CandidateInfo {
  const { id, value } = decodePayload(data.toString('utf8'));
  return { id, value, token: tokenOf(stat), key: path };
}

/** A candidate's info with its entry's priority (and `preempt` when set); the holder's with the record's token and `via`. */
function ranked(info: CandidateInfo, entry: Entry, held?: RecordReading): CandidateInfo {
  const token = held ? tokenOf(held.stat) : info.token;
  const via = held?.record.via;
  if (entry.priority === undefined) return { ...info, token };
  return { ...info, token, priority: entry.priority, ...(entry.preempt ? { preempt: true } : {}), ...(via ? { via } : {}) };
}

/** The latch path's children; `[]` when it does not exist. */
export async function readChildren(client: ZkClient, dir: string, watcher?: (event: Event) => void): Promise<string[]> {
  try {
    return await client.getChildren(dir, watcher);
  } catch (error) {
    if (isZk(error, ZkCode.NoNode)) return [];
    throw error;
  }
}

/**
 * The record as read: what it says, and its stat (the token is its czxid).
 * `foreign`: the `leader` child is no record (persistent — a nested
 * election's latch path — or data that does not decode); it names nobody
 * and does not make the election a priority one, but it still takes the
 * record's place.
 */
export interface RecordReading {
  readonly record: LeaderRecord;
  readonly stat: Stat;
  readonly foreign: boolean;
}

/** The `leader` child of the election at `dir`, or undefined when there is none. */
export async function readRecord(client: ZkClient, dir: string, watcher?: (event: Event) => void): Promise<RecordReading | undefined> {
  try {
    const { data, stat } = await client.getData(join(dir, recordName), watcher);
    const record = isEphemeral(stat) ? decodeRecord(data.toString('utf8')) : undefined;
    return { record: record ?? { holder: '' }, stat, foreign: record === undefined };
  } catch (error) {
    if (isZk(error, ZkCode.NoNode)) return undefined;
    throw error;
  }
}

/** One reading of an election: its children, its latch nodes as entries and, in a priority election, the record. */
export interface QueueReading {
  readonly children: string[];
  readonly entries: Entry[];
  readonly priority: boolean;
  readonly record: RecordReading | undefined;
}

export async function readQueue(client: ZkClient, dir: string, watcher?: (event: Event) => void): Promise<QueueReading> {
  const children = await readChildren(client, dir, watcher);
  const entries = queueEntries(dir, children);
  const record = children.includes(recordName) ? await readRecord(client, dir) : undefined;
  const priority = isPriorityLayout(record?.foreign === false, entries);
  return { children, entries, priority, record };
}

/** The candidate ids of `entries` (read from their data; '' for one that is gone), by key. */
export async function readIds(client: ZkClient, entries: readonly Entry[]): Promise<Map<string, string>> {
  const infos = await Promise.all(entries.map(async (entry) => [entry.key, (await readEntry(client, entry.path))?.id ?? ''] as const));
  return new Map(infos);
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

/** Every candidate, in election order (a priority election's: the leader first, then in the order they would lead). */
export async function readCandidates(client: ZkClient, dir: string): Promise<CandidateInfo[]> {
  const reading = await readQueue(client, dir);
  if (!reading.priority) {
    const entries = await Promise.all(electionOrder(reading.children).map((child) => readEntry(client, join(dir, child))));
    return entries.filter((entry): entry is CandidateInfo => entry !== undefined);
  }
  const { record } = reading;
  const holder = recordHolder(reading.entries, record?.record);
  const infos = await Promise.all(
    candidateOrder(reading.entries, record?.record).map(async (entry) => {
      const info = await readEntry(client, entry.path);
      if (!info) return undefined;
      return ranked(info, entry, entry === holder ? record : undefined);
    }),
  );
  return infos.filter((info): info is CandidateInfo => info !== undefined);
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
    let children: string[];
    try {
      children = await client.getChildren(dir, watchers.children);
    } catch (error) {
      if (!isZk(error, ZkCode.NoNode)) throw error;
      // No latch path yet: watch for its creation; if it appeared meanwhile, read again.
      if (!watchers.children || (await client.exists(dir, watchers.children)) === null) return undefined;
      continue;
    }
    const entries = queueEntries(dir, children);
    // The record says who leads (a data watch on it hears a handover); its
    // creation and deletion, and the holder's, are children changes.
    const record = children.includes(recordName) ? await readRecord(client, dir, watchers.leader) : undefined;
    if (isPriorityLayout(record?.foreign === false, entries)) {
      const holder = recordHolder(entries, record?.record);
      if (!record || !holder) return undefined;
      const entry = await readEntry(client, holder.path, watchers.leader);
      if (entry) return ranked(entry, holder, record);
      continue; // the holder left between the reads
    }
    const order = electionOrder(children);
    const first = order[0];
    if (first === undefined) return undefined;
    const entry = await readEntry(client, join(dir, first), watchers.leader);
    if (entry) return entry;
    // The leader left between the two reads; the children watch has fired or will.
  }
}
