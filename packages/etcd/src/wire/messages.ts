/**
 * The etcd v3 messages we send and read, by field number as etcd's
 * `rpc.proto` and `kv.proto` define them (etcd 3.4 and later: the fields
 * used here have not changed since 3.0). Names follow the proto files
 * (snake_case); 64-bit integers are decimal strings, as lease ids and
 * revisions are everywhere in this package; a field left out is its default.
 */
import { Writer, fields, int64 } from './protobuf.js';

export const SortOrder = { None: 0, Ascend: 1, Descend: 2 } as const;
export const SortTarget = { Key: 0, Version: 1, Create: 2, Mod: 3, Value: 4 } as const;
export const CompareResult = { Equal: 0, Greater: 1, Less: 2, NotEqual: 3 } as const;
export const CompareTarget = { Version: 0, Create: 1, Mod: 2, Value: 3, Lease: 4 } as const;
export const WatchFilter = { NoPut: 0, NoDelete: 1 } as const;

type Int64 = string | bigint | number;

export interface ResponseHeader {
  cluster_id: string;
  member_id: string;
  revision: string;
  raft_term: string;
}

export interface KeyValue {
  key: Buffer;
  create_revision: string;
  mod_revision: string;
  version: string;
  value: Buffer;
  /** The lease id, decimal; '0' when the key has none. */
  lease: string;
}

export interface RangeRequest {
  key: Buffer;
  range_end?: Buffer;
  limit?: Int64;
  revision?: Int64;
  sort_order?: number;
  sort_target?: number;
  serializable?: boolean;
  keys_only?: boolean;
  count_only?: boolean;
  min_mod_revision?: Int64;
  max_mod_revision?: Int64;
  min_create_revision?: Int64;
  max_create_revision?: Int64;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: string;
}

export interface PutRequest {
  key: Buffer;
  value?: Buffer;
  lease?: Int64;
  prev_kv?: boolean;
  /** Keep the key's current value (then `value` must be empty). */
  ignore_value?: boolean;
  /** Keep the key's current lease (then `lease` must be unset). */
  ignore_lease?: boolean;
}

export interface DeleteRangeRequest {
  key: Buffer;
  range_end?: Buffer;
  prev_kv?: boolean;
}

/** One of the four (a oneof): exactly one member is set. */
export interface RequestOp {
  request_range?: RangeRequest;
  request_put?: PutRequest;
  request_delete_range?: DeleteRangeRequest;
  request_txn?: TxnRequest;
}

/** A condition of a transaction; exactly one of the target values is set (a oneof). */
export interface Compare {
  result: number;
  target: number;
  key: Buffer;
  version?: Int64;
  create_revision?: Int64;
  mod_revision?: Int64;
  value?: Buffer;
  lease?: Int64;
  range_end?: Buffer;
}

export interface TxnRequest {
  compare?: Compare[];
  success?: RequestOp[];
  failure?: RequestOp[];
}

export interface PutResponse {
  header: ResponseHeader;
  prev_kv?: KeyValue;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: string;
  prev_kvs: KeyValue[];
}

export interface ResponseOp {
  response_range?: RangeResponse;
  response_put?: PutResponse;
  response_delete_range?: DeleteRangeResponse;
  response_txn?: TxnResponse;
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface WatchCreateRequest {
  key: Buffer;
  range_end?: Buffer;
  start_revision?: Int64;
  progress_notify?: boolean;
  filters?: number[];
  prev_kv?: boolean;
  watch_id?: Int64;
}

export interface WatchRequest {
  create_request?: WatchCreateRequest;
  cancel_request?: { watch_id: Int64 };
  progress_request?: Record<string, never>;
}

export interface WatchEvent {
  type: 'Put' | 'Delete';
  kv: KeyValue;
  prev_kv?: KeyValue;
}

export interface WatchResponse {
  header: ResponseHeader;
  watch_id: string;
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  cancel_reason: string;
  fragment: boolean;
  events: WatchEvent[];
}

export interface LeaseGrantResponse {
  header: ResponseHeader;
  ID: string;
  TTL: string;
  error: string;
}

export interface LeaseKeepAliveResponse {
  header: ResponseHeader;
  ID: string;
  TTL: string;
}

export interface LeaseTimeToLiveResponse {
  header: ResponseHeader;
  ID: string;
  TTL: string;
  grantedTTL: string;
  keys: Buffer[];
}

export interface HeaderOnly {
  header: ResponseHeader;
}

export interface AuthenticateResponse {
  header: ResponseHeader;
  token: string;
}

// ---- requests ----

function rangeRequest(r: RangeRequest): Writer {
  return new Writer()
    .bytes(1, r.key)
    .bytes(2, r.range_end)
    .int(3, r.limit)
    .int(4, r.revision)
    .int(5, r.sort_order)
    .int(6, r.sort_target)
    .bool(7, r.serializable)
    .bool(8, r.keys_only)
    .bool(9, r.count_only)
    .int(10, r.min_mod_revision)
    .int(11, r.max_mod_revision)
    .int(12, r.min_create_revision)
    .int(13, r.max_create_revision);
}

function putRequest(r: PutRequest): Writer {
  return new Writer().bytes(1, r.key).bytes(2, r.value).int(3, r.lease).bool(4, r.prev_kv).bool(5, r.ignore_value).bool(6, r.ignore_lease);
}

function deleteRangeRequest(r: DeleteRangeRequest): Writer {
  return new Writer().bytes(1, r.key).bytes(2, r.range_end).bool(3, r.prev_kv);
}

function requestOp(op: RequestOp): Writer {
  const w = new Writer();
  if (op.request_range) return w.message(1, rangeRequest(op.request_range));
  if (op.request_put) return w.message(2, putRequest(op.request_put));
  if (op.request_delete_range) return w.message(3, deleteRangeRequest(op.request_delete_range));
  if (op.request_txn) return w.message(4, txnRequest(op.request_txn));
  throw new Error('a transaction operation must set one request');
}

function compare(c: Compare): Writer {
  const w = new Writer().int(1, c.result).int(2, c.target).bytes(3, c.key);
  // The target value is a oneof member: written even at its default (0 is a
  // real value here — "create revision 0" means "the key does not exist").
  if (c.version !== undefined) w.intAlways(4, c.version);
  else if (c.create_revision !== undefined) w.intAlways(5, c.create_revision);
  else if (c.mod_revision !== undefined) w.intAlways(6, c.mod_revision);
  else if (c.value !== undefined) w.bytesAlways(7, c.value);
  else if (c.lease !== undefined) w.intAlways(8, c.lease);
  return w.bytes(64, c.range_end);
}

function txnRequest(r: TxnRequest): Writer {
  const w = new Writer();
  for (const c of r.compare ?? []) w.message(1, compare(c));
  for (const op of r.success ?? []) w.message(2, requestOp(op));
  for (const op of r.failure ?? []) w.message(3, requestOp(op));
  return w;
}

function watchRequest(r: WatchRequest): Writer {
  const w = new Writer();
  if (r.create_request) {
    const c = r.create_request;
    return w.message(
      1,
      new Writer()
        .bytes(1, c.key)
        .bytes(2, c.range_end)
        .int(3, c.start_revision)
        .bool(4, c.progress_notify)
        .packed(5, c.filters)
        .bool(6, c.prev_kv)
        .int(7, c.watch_id),
    );
  }
  if (r.cancel_request) return w.message(2, new Writer().int(1, r.cancel_request.watch_id));
  if (r.progress_request) return w.message(3, new Writer());
  throw new Error('a watch request must set one request');
}

export const encode = {
  range: (r: RangeRequest): Buffer => rangeRequest(r).finish(),
  txn: (r: TxnRequest): Buffer => txnRequest(r).finish(),
  put: (r: PutRequest): Buffer => putRequest(r).finish(),
  deleteRange: (r: DeleteRangeRequest): Buffer => deleteRangeRequest(r).finish(),
  watch: (r: WatchRequest): Buffer => watchRequest(r).finish(),
  leaseGrant: (r: { TTL: Int64; ID?: Int64 }): Buffer => new Writer().int(1, r.TTL).int(2, r.ID).finish(),
  leaseRevoke: (r: { ID: Int64 }): Buffer => new Writer().int(1, r.ID).finish(),
  leaseKeepAlive: (r: { ID: Int64 }): Buffer => new Writer().int(1, r.ID).finish(),
  leaseTimeToLive: (r: { ID: Int64; keys?: boolean }): Buffer => new Writer().int(1, r.ID).bool(2, r.keys).finish(),
  authenticate: (r: { name: string; password: string }): Buffer => new Writer().string(1, r.name).string(2, r.password).finish(),
};

// ---- responses ----

function header(buffer: Buffer | undefined): ResponseHeader {
  const h: ResponseHeader = { cluster_id: '0', member_id: '0', revision: '0', raft_term: '0' };
  if (!buffer) return h;
  for (const f of fields(buffer)) {
    if (f.varint === undefined) continue;
    if (f.field === 1) h.cluster_id = f.varint.toString();
    else if (f.field === 2) h.member_id = f.varint.toString();
    else if (f.field === 3) h.revision = int64(f.varint);
    else if (f.field === 4) h.raft_term = f.varint.toString();
  }
  return h;
}

export function keyValue(buffer: Buffer): KeyValue {
  const kv: KeyValue = { key: Buffer.alloc(0), create_revision: '0', mod_revision: '0', version: '0', value: Buffer.alloc(0), lease: '0' };
  for (const f of fields(buffer)) {
    if (f.field === 1 && f.bytes) kv.key = Buffer.from(f.bytes);
    else if (f.field === 2 && f.varint !== undefined) kv.create_revision = int64(f.varint);
    else if (f.field === 3 && f.varint !== undefined) kv.mod_revision = int64(f.varint);
    else if (f.field === 4 && f.varint !== undefined) kv.version = int64(f.varint);
    else if (f.field === 5 && f.bytes) kv.value = Buffer.from(f.bytes);
    else if (f.field === 6 && f.varint !== undefined) kv.lease = int64(f.varint);
  }
  return kv;
}

function rangeResponse(buffer: Buffer): RangeResponse {
  let h: Buffer | undefined;
  const res: Omit<RangeResponse, 'header'> = { kvs: [], more: false, count: '0' };
  for (const f of fields(buffer)) {
    if (f.field === 1 && f.bytes) h = f.bytes;
    else if (f.field === 2 && f.bytes) res.kvs.push(keyValue(f.bytes));
    else if (f.field === 3 && f.varint !== undefined) res.more = f.varint !== 0n;
    else if (f.field === 4 && f.varint !== undefined) res.count = int64(f.varint);
  }
  return { header: header(h), ...res };
}

function putResponse(buffer: Buffer): PutResponse {
  let h: Buffer | undefined;
  let prev: KeyValue | undefined;
  for (const f of fields(buffer)) {
    if (f.field === 1 && f.bytes) h = f.bytes;
    else if (f.field === 2 && f.bytes) prev = keyValue(f.bytes);
  }
  return { header: header(h), ...(prev && { prev_kv: prev }) };
}

function deleteRangeResponse(buffer: Buffer): DeleteRangeResponse {
  let h: Buffer | undefined;
  const res: Omit<DeleteRangeResponse, 'header'> = { deleted: '0', prev_kvs: [] };
  for (const f of fields(buffer)) {
    if (f.field === 1 && f.bytes) h = f.bytes;
    else if (f.field === 2 && f.varint !== undefined) res.deleted = int64(f.varint);
    else if (f.field === 3 && f.bytes) res.prev_kvs.push(keyValue(f.bytes));
  }
  return { header: header(h), ...res };
}

function responseOp(buffer: Buffer): ResponseOp {
  for (const f of fields(buffer)) {
    if (!f.bytes) continue;
    if (f.field === 1) return { response_range: rangeResponse(f.bytes) };
    if (f.field === 2) return { response_put: putResponse(f.bytes) };
    if (f.field === 3) return { response_delete_range: deleteRangeResponse(f.bytes) };
    if (f.field === 4) return { response_txn: txnResponse(f.bytes) };
  }
  return {};
}

function txnResponse(buffer: Buffer): TxnResponse {
  let h: Buffer | undefined;
  const res: Omit<TxnResponse, 'header'> = { succeeded: false, responses: [] };
  for (const f of fields(buffer)) {
    if (f.field === 1 && f.bytes) h = f.bytes;
    else if (f.field === 2 && f.varint !== undefined) res.succeeded = f.varint !== 0n;
    else if (f.field === 3 && f.bytes) res.responses.push(responseOp(f.bytes));
  }
  return { header: header(h), ...res };
}

function watchEvent(buffer: Buffer): WatchEvent {
  let type: WatchEvent['type'] = 'Put';
  let kv: KeyValue | undefined;
  let prev: KeyValue | undefined;
  for (const f of fields(buffer)) {
    if (f.field === 1 && f.varint !== undefined) type = f.varint === 1n ? 'Delete' : 'Put';
    else if (f.field === 2 && f.bytes) kv = keyValue(f.bytes);
    else if (f.field === 3 && f.bytes) prev = keyValue(f.bytes);
  }
  return { type, kv: kv ?? keyValue(Buffer.alloc(0)), ...(prev && { prev_kv: prev }) };
}

function watchResponse(buffer: Buffer): WatchResponse {
  let h: Buffer | undefined;
  const res: Omit<WatchResponse, 'header'> = {
    watch_id: '0',
    created: false,
    canceled: false,
    compact_revision: '0',
    cancel_reason: '',
    fragment: false,
    events: [],
  };
  for (const f of fields(buffer)) {
    if (f.field === 1 && f.bytes) h = f.bytes;
    else if (f.field === 2 && f.varint !== undefined) res.watch_id = int64(f.varint);
    else if (f.field === 3 && f.varint !== undefined) res.created = f.varint !== 0n;
    else if (f.field === 4 && f.varint !== undefined) res.canceled = f.varint !== 0n;
    else if (f.field === 5 && f.varint !== undefined) res.compact_revision = int64(f.varint);
    else if (f.field === 6 && f.bytes) res.cancel_reason = f.bytes.toString('utf8');
    else if (f.field === 7 && f.varint !== undefined) res.fragment = f.varint !== 0n;
    else if (f.field === 11 && f.bytes) res.events.push(watchEvent(f.bytes));
  }
  return { header: header(h), ...res };
}

/** A message whose fields after the header are all int64 (lease answers), by field number → name. */
function numbers<T extends { header: ResponseHeader }>(names: Record<number, string>) {
  return (buffer: Buffer): T => {
    let h: Buffer | undefined;
    const out: Record<string, unknown> = {};
    for (const name of Object.values(names)) out[name] = '0';
    for (const f of fields(buffer)) {
      if (f.field === 1 && f.bytes) h = f.bytes;
      else if (names[f.field] && f.varint !== undefined) out[names[f.field]!] = int64(f.varint);
    }
    return { header: header(h), ...out } as T;
  };
}

function leaseGrantResponse(buffer: Buffer): LeaseGrantResponse {
  const res = numbers<LeaseGrantResponse>({ 2: 'ID', 3: 'TTL' })(buffer);
  res.error = '';
  for (const f of fields(buffer)) if (f.field === 4 && f.bytes) res.error = f.bytes.toString('utf8');
  return res;
}

function leaseTimeToLiveResponse(buffer: Buffer): LeaseTimeToLiveResponse {
  const res = numbers<LeaseTimeToLiveResponse>({ 2: 'ID', 3: 'TTL', 4: 'grantedTTL' })(buffer);
  res.keys = [];
  for (const f of fields(buffer)) if (f.field === 5 && f.bytes) res.keys.push(Buffer.from(f.bytes));
  return res;
}

function authenticateResponse(buffer: Buffer): AuthenticateResponse {
  let h: Buffer | undefined;
  let token = '';
  for (const f of fields(buffer)) {
    if (f.field === 1 && f.bytes) h = f.bytes;
    else if (f.field === 2 && f.bytes) token = f.bytes.toString('utf8');
  }
  return { header: header(h), token };
}

export const decode = {
  range: rangeResponse,
  txn: txnResponse,
  put: putResponse,
  deleteRange: deleteRangeResponse,
  watch: watchResponse,
  leaseGrant: leaseGrantResponse,
  leaseRevoke: numbers<HeaderOnly>({}),
  /** Maintenance Status: only the header is of use to us. */
  status: numbers<HeaderOnly>({}),
  leaseKeepAlive: numbers<LeaseKeepAliveResponse>({ 2: 'ID', 3: 'TTL' }),
  leaseTimeToLive: leaseTimeToLiveResponse,
  authenticate: authenticateResponse,
};
