/**
 * The key layout, shared with etcd's Go `concurrency.Election` and
 * `etcdctl elect NAME`: every candidate writes `NAME/<lease id in lowercase
 * hex>` (`fmt.Sprintf("%s/%x", name, leaseID)` in Go), so Node and Go
 * candidates queue in one election. Checked against etcdctl 3.4: `etcdctl
 * elect billing hello` writes `billing/4576a20ae28e5c05` = `hello`.
 *
 * A connection's `namespace` is prepended to every key on the wire, like the
 * Go client's `namespace.NewKV`; keys reported to callers leave it out.
 */
import { InvalidOptionError } from '@elect/core';

/** Lease ids travel as decimal strings (etcd3 maps int64 to string); Go prints them with %x. */
export function leaseHex(leaseId: string): string {
  return BigInt(leaseId).toString(16);
}

/**
 * Rejects what cannot name an election, before anything is written: empty,
 * NUL or line breaks (they break `etcdctl` output and most tooling), a
 * trailing `/` (the separator is ours: `a/` would make keys `a//<lease>`), or
 * an absurd length.
 */
export function electionName(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidOptionError('name', `an etcd election name must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  if (/[\0\r\n]/.test(value)) throw new InvalidOptionError('name', 'must not contain NUL or line breaks');
  if (value.endsWith('/')) throw new InvalidOptionError('name', `must not end with "/" (keys are "<name>/<lease hex>"), got ${JSON.stringify(value)}`);
  if (Buffer.byteLength(value) > 1024) throw new InvalidOptionError('name', 'must be at most 1024 bytes');
  return value;
}

/** Maps between the caller's key names and the wire, for one namespace. */
export class KeySpace {
  private readonly ns: Buffer;

  constructor(namespace: string) {
    this.ns = Buffer.from(namespace);
  }

  /** The wire form of a caller's key. */
  wire(key: string): Buffer {
    return Buffer.concat([this.ns, Buffer.from(key)]);
  }

  /** The caller's form of a wire key (namespace removed). */
  local(key: Buffer): string {
    return key.subarray(this.ns.length).toString();
  }

  /** [start, end) on the wire covering every key that starts with `prefix`. */
  prefixRange(prefix: string): { key: Buffer; range_end: Buffer } {
    const key = this.wire(prefix);
    return { key, range_end: prefixEnd(key) };
  }
}

/** The smallest key greater than every key starting with `prefix` (etcd's clientv3.GetPrefixRangeEnd). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: the range runs to the end of the keyspace.
  return Buffer.from([0]);
}
