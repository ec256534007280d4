/**
 * The wire layout of a priority election (core's priority.ts has the rules).
 * Under `name/`, besides the candidates:
 *
 * - a candidate of priority n is `name/<lease hex>[-<slot>].prio-<n>` (with
 *   `-preempt` when it preempts): etcdctl's key with the tag after a `.`,
 *   on the candidate's lease, ordered by priority, then create revision;
 * - the record `name/leader`, on the holder's lease, names the holder's key
 *   (core's `encodeRecord`); the token is the revision of the write that
 *   named the holder — its mod revision, as the holder never writes it again
 *   while it leads;
 * - a handover request `name/handover`, written by `election.handover()`
 *   on the requester's lease (it goes with the requester) and deleted by
 *   the leader.
 *
 * A waiting candidate watches the key just ahead of it in core's wait order
 * for its deletion (the first watches the record), and its own key for a
 * touch: a write that keeps value and lease, by a newcomer that sorted in
 * ahead of it or by a leader handing over to it.
 *
 * Each reading decides which layout an election has: a tagged key, a record
 * or a request makes it a priority election.
 */
import { InvalidOptionError, type CandidateInfo } from '@elect/core';
import {
  candidateOrder,
  decodePayload,
  decodeRecord,
  parsePriorityTag,
  recordHolder,
  type LeaderRecord,
  type Passage,
  type QueueEntry,
} from '@elect/core/backend';
import { toCandidate, type ElectionKV, type Entry } from './kv.js';

/** A candidate's entry, ranked for core's rules. */
export interface Ranked extends QueueEntry {
  readonly entry: Entry;
}

/** One reading of an election, at one revision. */
export interface Reading {
  readonly revision: bigint;
  /** Every candidate, with or without a priority. */
  readonly entries: Ranked[];
  /** The record as read (its data may be a stranger's). */
  readonly record: Entry | undefined;
  readonly request: Entry | undefined;
}

/** The part of a candidate key after `name/<lease hex>[-<slot>]`. */
export function priorityTagOf(key: string): { priority: number; preempt: boolean } | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot < 0 ? undefined : parsePriorityTag(name.slice(dot + 1));
}

/** Sorts the keys of one election (as `ElectionKV.list()` returns them) into a reading. */
export function readingOf(kv: ElectionKV, revision: bigint, keys: readonly Entry[]): Reading {
  let record: Entry | undefined;
  let request: Entry | undefined;
  const entries: Ranked[] = [];
  for (const entry of keys) {
    if (entry.key === kv.recordKey) record = entry;
    else if (entry.key === kv.requestKey) request = entry;
    else entries.push(ranked(entry));
  }
  return { revision, entries, record, request };
}

export function ranked(entry: Entry): Ranked {
  const tag = priorityTagOf(entry.key);
  return { key: entry.key, priority: tag?.priority, preempt: tag?.preempt ?? false, order: entry.createRevision, entry };
}

/** A tagged key, a record or a request: the priority layout. */
export function isPriority(reading: Reading): boolean {
  return reading.record !== undefined || reading.request !== undefined || reading.entries.some((e) => e.priority !== undefined);
}

/** The record's data; a record we cannot read is held by nobody we know (it still blocks a take). */
export function recordOf(reading: Reading): LeaderRecord | undefined {
  if (!reading.record) return undefined;
  return decodeRecord(reading.record.value) ?? { holder: '' };
}

/** A candidate as callers see it: in a priority election with its priority, and the holder with the record's token and `via`. */
export function candidateInfo(entry: Ranked, holder?: { token: bigint; via: Passage | undefined }): CandidateInfo {
  const base = { ...toCandidate(entry.entry), token: holder?.token ?? entry.entry.createRevision };
  if (entry.priority === undefined) return base;
  return { ...base, priority: entry.priority, ...(entry.preempt ? { preempt: true } : {}), ...(holder?.via ? { via: holder.via } : {}) };
}

/** The holder's part of its `CandidateInfo`, from the record. */
function held(reading: Reading, record: LeaderRecord | undefined): { token: bigint; via: Passage | undefined } | undefined {
  return reading.record && { token: reading.record.modRevision, via: record?.via };
}

/** The leader in either layout: the record's holder (none during a handover), or the oldest key. */
export function leaderOf(reading: Reading): CandidateInfo | undefined {
  if (!isPriority(reading)) {
    let first: Entry | undefined;
    for (const { entry } of reading.entries) if (first === undefined || entry.createRevision < first.createRevision) first = entry;
    return first && toCandidate(first);
  }
  const record = recordOf(reading);
  const holder = recordHolder(reading.entries, record);
  return holder && candidateInfo(holder, held(reading, record));
}

/** `candidates()` in either layout. */
export function candidatesOf(reading: Reading): CandidateInfo[] {
  if (!isPriority(reading)) return [...reading.entries].sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0)).map((e) => toCandidate(e.entry));
  const record = recordOf(reading);
  const holder = recordHolder(reading.entries, record);
  return candidateOrder(reading.entries, record).map((e) => candidateInfo(e, e === holder ? held(reading, record) : undefined));
}

export function idOf(entry: Ranked): string {
  return decodePayload(entry.entry.value).id;
}

export function notWaiting(to: string, name: string): InvalidOptionError {
  return new InvalidOptionError('to', `no candidate ${JSON.stringify(to)} is waiting in election ${JSON.stringify(name)}`);
}
