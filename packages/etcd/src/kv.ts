/**
 * The election's reads and writes, each one round trip. Writes to our own key
 * are guarded by its create revision (our fencing token), so a stale
 * candidate can never overwrite or delete an entry that is not its own.
 */
import { decodePayload, type CandidateInfo, type Clock, type Logger } from '@elect/core';
import { CompareResult, CompareTarget, SortOrder, SortTarget, type ICompare, type IKeyValue } from 'etcd3';
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
  readonly value: string;
  /** Lease id, decimal. */
  readonly lease: string;
}

export function toEntry(keys: KeySpace, kv: IKeyValue): Entry {
  return {
    key: keys.local(kv.key),
    createRevision: BigInt(kv.create_revision),
    value: (kv.value ?? Buffer.alloc(0)).toString(),
    lease: kv.lease || '0',
  };
}

/** What callers see: the payload's first line is the id (etcdctl's proposal is both id and value). */
export function toCandidate(entry: Entry): CandidateInfo {
  const { id, value } = decodePayload(entry.value);
  return { id, value, token: entry.createRevision, key: entry.key };
}

export class ElectionKV {
  /** `name/`, the prefix of every candidate key. */
  readonly prefix: string;

  constructor(
    private readonly endpoints: Endpoints,
    private readonly keys: KeySpace,
    name: string,
  ) {
    this.prefix = `${name}/`;
  }

  /**
   * Go's Campaign transaction: create our key with our lease if it does not
   * exist, else read it. Doing it twice is harmless: a retried campaign finds
   * the key its earlier attempt wrote.
   */
  async create(key: string, payload: string, lease: string): Promise<{ entry: Entry; created: boolean }> {
    const wire = this.keys.wire(key);
    const res = await this.endpoints.unary('campaign', (c) =>
      c.kv.txn({
        compare: [createRevisionIs(wire, 0n)],
        success: [{ request_put: { key: wire, value: Buffer.from(payload), lease } }],
        failure: [{ request_range: { key: wire } }],
      }),
    );
    if (res.succeeded) {
      return { entry: { key, createRevision: BigInt(res.header.revision), value: payload, lease }, created: true };
    }
    const kv = res.responses[0]?.response_range.kvs[0];
    // The key vanished between compare and read: impossible in one txn, but never trust it.
    if (!kv) throw new Error(`campaign: ${key} neither created nor found`);
    return { entry: toEntry(this.keys, kv), created: false };
  }

  /**
   * One atomic read: the candidate just ahead of `createRevision` (greatest
   * create revision below ours) and our own key, at the same revision.
   */
  async position(key: string, createRevision: bigint): Promise<{ revision: bigint; predecessor?: Entry; self?: Entry }> {
    const range = this.keys.prefixRange(this.prefix);
    const res = await this.endpoints.unary('read predecessor', (c) =>
      c.kv.txn({
        compare: [],
        success: [
          {
            request_range: {
              ...range,
              sort_order: SortOrder.Descend,
              sort_target: SortTarget.Create,
              max_create_revision: (createRevision - 1n).toString(),
              limit: 1,
            },
          },
          { request_range: { key: this.keys.wire(key) } },
        ],
        failure: [],
      }),
    );
    const before = res.responses[0]?.response_range.kvs[0];
    const self = res.responses[1]?.response_range.kvs[0];
    return {
      revision: BigInt(res.header.revision),
      ...(before && { predecessor: toEntry(this.keys, before) }),
      ...(self && { self: toEntry(this.keys, self) }),
    };
  }

  /** Every candidate in election order (lowest create revision first), at one revision. */
  async list(limit = 0): Promise<{ revision: bigint; entries: Entry[] }> {
    const res = await this.endpoints.unary('read candidates', (c) =>
      c.kv.range({ ...this.keys.prefixRange(this.prefix), sort_order: SortOrder.Ascend, sort_target: SortTarget.Create, limit }),
    );
    return { revision: BigInt(res.header.revision), entries: res.kvs.map((kv) => toEntry(this.keys, kv)) };
  }

  /** Writes `payload` to our key only while it is still the one we created. False: it is not ours any more. */
  async proclaim(key: string, token: bigint, payload: string, lease: string): Promise<boolean> {
    const wire = this.keys.wire(key);
    const res = await this.endpoints.unary('proclaim', (c) =>
      c.kv.txn({ compare: [createRevisionIs(wire, token)], success: [{ request_put: { key: wire, value: Buffer.from(payload), lease } }], failure: [] }),
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
      c.kv.txn({ compare: [leaseIs(wire, lease)], success: [{ request_delete_range: { key: wire } }], failure: [] }),
    );
  }

  /** Deletes our key if it is still the one we created; resolves either way once it is not there as ours. */
  async remove(key: string, token: bigint): Promise<void> {
    const wire = this.keys.wire(key);
    await this.endpoints.unary('resign', (c) =>
      c.kv.txn({ compare: [createRevisionIs(wire, token)], success: [{ request_delete_range: { key: wire } }], failure: [] }),
    );
  }
}

/** True when `key` exists with `lease` (a key that does not exist has lease 0). */
function leaseIs(key: Buffer, lease: string): ICompare {
  return { key, target: CompareTarget.Lease, result: CompareResult.Equal, lease };
}

function createRevisionIs(key: Buffer, revision: bigint): ICompare {
  return { key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: revision.toString() };
}
