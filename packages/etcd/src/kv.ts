/**
 * The election's reads and writes, each one round trip in the usual case.
 * Writes to our own key are guarded by its create revision (our fencing
 * token), so a stale candidate can never overwrite or delete an entry that is
 * not its own.
 *
 * A candidate of election `name` is a key `name/<x>` with no further `/`:
 * `name/<y>/<z>` belongs to the nested election `name/<y>`, which shares our
 * key range (etcd has no directories, and Go's `concurrency.Election` mixes
 * the two). Reads skip such keys; when a page of the range held only nested
 * keys, the next page is read at the same revision, so a read is still one
 * snapshot. A page ends between keys of different create revisions only if
 * no two keys share one; keys written by one transaction do, but a candidate
 * key is always created by a transaction of its own, so a page boundary
 * never hides a candidate.
 */
import { type CandidateInfo, type Clock, type Logger } from '@elect/core';
import { decodePayload, decodeRecord } from '@elect/core/backend';
import { CompareResult, CompareTarget, SortOrder, SortTarget, type Compare, type KeyValue, type RangeRequest, type RangeResponse } from './wire/messages.js';
import type { Endpoints } from './endpoints.js';
import type { KeySpace } from './keys.js';

/** What everything working on one election shares: its reads and writes, the connection's members, and its clock. */
export interface ElectionScope {
  kv: ElectionKV;
  keys: KeySpace;
  endpoints: Endpoints;
  logger: Logger;
  clock: Clock;
}

export interface Entry {
  /** Key without the namespace. */
  readonly key: string;
  readonly createRevision: bigint;
  /** The revision of its last write (a priority election's record: the token). */
  readonly modRevision: bigint;
  readonly value: string;
  /** Lease id, decimal. */
  readonly lease: string;
}

export function toEntry(keys: KeySpace, kv: KeyValue): Entry {
  return {
    key: keys.local(kv.key),
    createRevision: BigInt(kv.create_revision),
    modRevision: BigInt(kv.mod_revision),
    value: (kv.value ?? Buffer.alloc(0)).toString(),
    lease: kv.lease || '0',
  };
}

/** What callers see: the payload's first line is the id (etcdctl's proposal is both id and value). */
export function toCandidate(entry: Entry): CandidateInfo {
  const { id, value } = decodePayload(entry.value);
  return { id, value, token: entry.createRevision, key: entry.key };
}

/** How many keys a read fetches at a time when it must look past nested elections' keys. */
const pageSize = 64;

export class ElectionKV {
  /** `name/`, the prefix of every candidate key. */
  readonly prefix: string;
  /** A priority election's record and handover request (see priority.ts). */
  readonly recordKey: string;
  readonly requestKey: string;

  constructor(
    private readonly endpoints: Endpoints,
    private readonly keys: KeySpace,
    readonly name: string,
  ) {
    this.prefix = `${name}/`;
    this.recordKey = `${this.prefix}leader`;
    this.requestKey = `${this.prefix}handover`;
  }

  /** Whether `key` (without the namespace) is a candidate of this election, not of one nested in it. */
  isCandidate(key: string): boolean {
    return key.startsWith(this.prefix) && !key.includes('/', this.prefix.length);
  }

  /**
   * Go's Campaign transaction: create our key with our lease if it does not
   * exist, else read it. Doing it twice is harmless: a retried campaign finds
   * the key its earlier attempt wrote.
   */
  async create(key: string, payload: string, lease: string): Promise<{ entry: Entry; created: boolean }> {
    const wire = this.keys.wire(key);
    const res = await this.endpoints.unary('campaign', (c) =>
      c.txn({
        compare: [createRevisionIs(wire, 0n)],
        success: [{ request_put: { key: wire, value: Buffer.from(payload), lease } }],
        failure: [{ request_range: { key: wire } }],
      }),
    );
    if (res.succeeded) {
      const revision = BigInt(res.header.revision);
      return { entry: { key, createRevision: revision, modRevision: revision, value: payload, lease }, created: true };
    }
    const kv = res.responses[0]?.response_range?.kvs[0];
    // The key vanished between compare and read: impossible in one txn, but never trust it.
    if (!kv) throw new Error(`campaign: ${key} neither created nor found`);
    return { entry: toEntry(this.keys, kv), created: false };
  }

  /**
   * One atomic read: the candidate just ahead of `createRevision` (greatest
   * create revision below ours) and our own key, at the same revision.
   */
  async position(key: string, createRevision: bigint): Promise<{ revision: bigint; predecessor?: Entry; self?: Entry; marked: boolean }> {
    const before = (below: bigint, limit: number): RangeRequest => ({
      ...this.keys.prefixRange(this.prefix),
      sort_order: SortOrder.Descend,
      sort_target: SortTarget.Create,
      max_create_revision: (below - 1n).toString(),
      limit,
    });
    const res = await this.endpoints.unary('read predecessor', (c) =>
      c.txn({
        compare: [],
        success: [
          { request_range: before(createRevision, 1) },
          { request_range: { key: this.keys.wire(key) } },
          // A priority election's record and request: a plain campaign must not join one.
          { request_range: { key: this.keys.wire(this.recordKey), keys_only: true } },
          { request_range: { key: this.keys.wire(this.requestKey), keys_only: true } },
        ],
        failure: [],
      }),
    );
    const revision = BigInt(res.header.revision);
    const marked = [2, 3].some((i) => (res.responses[i]?.response_range?.kvs.length ?? 0) > 0);
    const selfKv = res.responses[1]?.response_range?.kvs[0];
    const self = selfKv && toEntry(this.keys, selfKv);
    let page: RangeResponse = res.responses[0]?.response_range ?? { header: res.header, kvs: [], more: false, count: '0' };
    for (;;) {
      const entries = page.kvs.map((kv) => toEntry(this.keys, kv));
      const predecessor = entries.find((entry) => this.isCandidate(entry.key));
      if (predecessor || !page.more || entries.length === 0) return { revision, marked, ...(predecessor && { predecessor }), ...(self && { self }) };
      // Only nested elections' keys so far: look further down, at the same revision.
      const lowest = entries[entries.length - 1]!.createRevision;
      page = await this.endpoints.unary('read predecessor', (c) => c.range({ ...before(lowest, pageSize), revision: revision.toString() }));
    }
  }

  /** Every candidate in election order (lowest create revision first), at most `limit` (0: all), at one revision. */
  async list(limit = 0): Promise<{ revision: bigint; entries: Entry[] }> {
    const range = (after: bigint, count: number): RangeRequest => ({
      ...this.keys.prefixRange(this.prefix),
      sort_order: SortOrder.Ascend,
      sort_target: SortTarget.Create,
      min_create_revision: (after + 1n).toString(),
      limit: count,
    });
    let page = await this.endpoints.unary('read candidates', (c) => c.range(range(0n, limit)));
    const revision = BigInt(page.header.revision);
    const entries: Entry[] = [];
    for (;;) {
      const read = page.kvs.map((kv) => toEntry(this.keys, kv));
      entries.push(...read.filter((entry) => this.isCandidate(entry.key)));
      if (limit === 0 || entries.length >= limit || !page.more || read.length === 0) return { revision, entries: limit === 0 ? entries : entries.slice(0, limit) };
      // Nested elections' keys took places in the page: read on, at the same revision.
      const last = read[read.length - 1]!.createRevision;
      page = await this.endpoints.unary('read candidates', (c) => c.range({ ...range(last, pageSize), revision: revision.toString() }));
    }
  }

  /** Writes `payload` to our key only while it is still the one we created. False: it is not ours any more. */
  async proclaim(key: string, token: bigint, payload: string, lease: string): Promise<boolean> {
    const wire = this.keys.wire(key);
    const res = await this.endpoints.unary('proclaim', (c) =>
      c.txn({ compare: [createRevisionIs(wire, token)], success: [{ request_put: { key: wire, value: Buffer.from(payload), lease } }], failure: [] }),
    );
    return res.succeeded;
  }

  /**
   * Deletes `key` if it exists on `lease`: for a campaign whose create may
   * have been applied though its answer never came (so its revision is
   * unknown). Only this connection writes keys named after its lease.
   */
  async removeOnLease(key: string, lease: string): Promise<void> {
    const wire = this.keys.wire(key);
    await this.endpoints.unary('withdraw', (c) =>
      c.txn({ compare: [leaseIs(wire, lease)], success: [{ request_delete_range: { key: wire } }], failure: [] }),
    );
  }

  /** Deletes our key if it is still the one we created; resolves either way once it is not there as ours. */
  async remove(key: string, token: bigint): Promise<void> {
    const wire = this.keys.wire(key);
    await this.endpoints.unary('resign', (c) =>
      c.txn({ compare: [createRevisionIs(wire, token)], success: [{ request_delete_range: { key: wire } }], failure: [] }),
    );
  }
  /**
   * A priority election's take: create the record naming `own`, on our lease,
   * only if there is none and `own` is still the key we created. The token
   * (the write's revision), or undefined when either no longer holds.
   */
  async take(own: Entry, record: string): Promise<bigint | undefined> {
    return this.writeRecord('take', createRevisionIs(this.keys.wire(this.recordKey), 0n), own, record);
  }

  /** Take-over: replace the record handed over to `own` (as read at `modRevision`) with ours. */
  async takeOver(own: Entry, modRevision: bigint, record: string): Promise<bigint | undefined> {
    return this.writeRecord('take over', modRevisionIs(this.keys.wire(this.recordKey), modRevision), own, record);
  }

  private async writeRecord(what: string, guard: Compare, own: Entry, record: string): Promise<bigint | undefined> {
    const wire = this.keys.wire(this.recordKey);
    const res = await this.endpoints.unary(what, (c) =>
      c.txn({
        compare: [guard, createRevisionIs(this.keys.wire(own.key), own.createRevision)],
        success: [{ request_put: { key: wire, value: Buffer.from(record), lease: own.lease } }],
        failure: [],
      }),
    );
    return res.succeeded ? BigInt(res.header.revision) : undefined;
  }

  /** The holder's handover: rewrite the record (still at `token`) on our lease. The write's revision, or undefined. */
  async markRecord(token: bigint, record: string, lease: string): Promise<bigint | undefined> {
    const wire = this.keys.wire(this.recordKey);
    const res = await this.endpoints.unary('hand over', (c) =>
      c.txn({ compare: [modRevisionIs(wire, token)], success: [{ request_put: { key: wire, value: Buffer.from(record), lease } }], failure: [] }),
    );
    return res.succeeded ? BigInt(res.header.revision) : undefined;
  }

  /**
   * Touches a waiting candidate's key so that it re-reads the election (it
   * watches its own key for that): a write that keeps its value and lease,
   * only while it is the key as read — a deleted key is never recreated, and
   * a value written since is never undone.
   */
  async touch(entry: Entry): Promise<void> {
    const wire = this.keys.wire(entry.key);
    await this.endpoints.unary('touch', (c) =>
      c.txn({
        compare: [createRevisionIs(wire, entry.createRevision)],
        success: [{ request_put: { key: wire, ignore_value: true, ignore_lease: true } }],
        failure: [],
      }),
    );
  }

  /** `keys` as they are now, in one read (undefined: absent), without their values. */
  async current(keys: readonly string[]): Promise<Array<Entry | undefined>> {
    const res = await this.endpoints.unary('read', (c) =>
      c.txn({ compare: [], success: keys.map((key) => ({ request_range: { key: this.keys.wire(key), keys_only: true } })), failure: [] }),
    );
    return keys.map((_, i) => {
      const kv = res.responses[i]?.response_range?.kvs[0];
      return kv && toEntry(this.keys, kv);
    });
  }

  /**
   * `election.handover()`: the request to the leader, on the requester's
   * lease (it goes with the requester; the leader deletes one it acts on),
   * written only while the record is still at `token` (the leader read).
   * False when leadership changed meanwhile.
   */
  async request(payload: string, token: bigint, lease: string): Promise<boolean> {
    const wire = this.keys.wire(this.requestKey);
    const res = await this.endpoints.unary('request handover', (c) =>
      c.txn({
        compare: [modRevisionIs(this.keys.wire(this.recordKey), token)],
        success: [{ request_put: { key: wire, value: Buffer.from(payload), lease } }],
        failure: [],
      }),
    );
    return res.succeeded;
  }

  /** Deletes `entry` if it has not been written since it was read. */
  async removeIfUnchanged(entry: Entry): Promise<void> {
    const wire = this.keys.wire(entry.key);
    await this.endpoints.unary('delete', (c) =>
      c.txn({ compare: [modRevisionIs(wire, entry.modRevision)], success: [{ request_delete_range: { key: wire } }], failure: [] }),
    );
  }

  /**
   * A priority candidate's removal: our key (if still the one we created)
   * and the record while it is ours — on our lease and naming our key. In
   * one transaction while the record is as we last knew it (`known`, the
   * revision of our last confirmed write; 0: none); else (a write of ours
   * whose answer was lost moved it on, or a take never confirmed) the
   * record as that transaction found it decides, and it is deleted only
   * while unchanged since.
   */
  async removeWithRecord(own: Entry, known: bigint): Promise<void> {
    const wire = this.keys.wire(own.key);
    const recordWire = this.keys.wire(this.recordKey);
    const both = await this.endpoints.unary('resign', (c) =>
      c.txn({
        compare: [modRevisionIs(recordWire, known), createRevisionIs(wire, own.createRevision)],
        success: [{ request_delete_range: { key: recordWire } }, { request_delete_range: { key: wire } }],
        failure: [{ request_range: { key: recordWire } }],
      }),
    );
    if (both.succeeded) return;
    const kv = both.responses[0]?.response_range?.kvs[0];
    const record = kv && toEntry(this.keys, kv);
    if (record && record.lease === own.lease && decodeRecord(record.value)?.holder === own.key) {
      await this.endpoints.unary('resign', (c) =>
        c.txn({
          compare: [modRevisionIs(recordWire, record.modRevision), leaseIs(recordWire, own.lease)],
          success: [{ request_delete_range: { key: recordWire } }],
          failure: [],
        }),
      );
    }
    await this.remove(own.key, own.createRevision);
  }
}

/** True when `key` exists with `lease` (a key that does not exist has lease 0). */
function leaseIs(key: Buffer, lease: string): Compare {
  return { key, target: CompareTarget.Lease, result: CompareResult.Equal, lease };
}

function createRevisionIs(key: Buffer, revision: bigint): Compare {
  return { key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: revision.toString() };
}

function modRevisionIs(key: Buffer, revision: bigint): Compare {
  return { key, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: revision.toString() };
}
