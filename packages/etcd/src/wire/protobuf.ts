/**
 * The protobuf wire format, as much of it as etcd's API uses: varints
 * (int64, uint64, bool, enums) and length-delimited fields (bytes, strings,
 * nested messages). proto3: a field at its default value is not written.
 *
 * 64-bit integers travel through this module as `bigint`; the messages
 * (messages.ts) hand them to the rest of the package as decimal strings, the
 * form lease ids and revisions have always had here.
 */

const varint = 0;
const fixed64 = 1;
const lengthDelimited = 2;
const fixed32 = 5;

const mask64 = (1n << 64n) - 1n;

/** Builds one message. Fields may be written in any order; we write them in field order. */
export class Writer {
  private readonly parts: Buffer[] = [];

  /** An int64 / uint64 / enum field; 0 is the default and is left out. Negative values are written as 64-bit two's complement. */
  int(field: number, value: bigint | number | string | undefined): this {
    if (value === undefined || BigInt(value) === 0n) return this;
    return this.intAlways(field, value);
  }

  /** An integer member of a oneof: written even when 0, which is then a value, not an absence. */
  intAlways(field: number, value: bigint | number | string): this {
    const n = BigInt(value);
    this.tag(field, varint);
    this.parts.push(encodeVarint(n & mask64));
    return this;
  }

  bool(field: number, value: boolean | undefined): this {
    if (value) {
      this.tag(field, varint);
      this.parts.push(Buffer.of(1));
    }
    return this;
  }

  /** A bytes field; an empty value is the default and is left out. */
  bytes(field: number, value: Buffer | Uint8Array | undefined): this {
    if (value === undefined || value.length === 0) return this;
    return this.bytesAlways(field, value);
  }

  /** A bytes member of a oneof: written even when empty. */
  bytesAlways(field: number, value: Buffer | Uint8Array): this {
    this.tag(field, lengthDelimited);
    this.parts.push(encodeVarint(BigInt(value.length)), Buffer.from(value.buffer, value.byteOffset, value.length));
    return this;
  }

  string(field: number, value: string | undefined): this {
    return value ? this.bytes(field, Buffer.from(value, 'utf8')) : this;
  }

  /** A nested message, written even when empty (presence matters for oneof members). */
  message(field: number, value: Writer | undefined): this {
    if (value === undefined) return this;
    const body = value.finish();
    this.tag(field, lengthDelimited);
    this.parts.push(encodeVarint(BigInt(body.length)), body);
    return this;
  }

  /** A packed repeated varint field (proto3's default for repeated scalars). */
  packed(field: number, values: readonly number[] | undefined): this {
    if (!values || values.length === 0) return this;
    const body = Buffer.concat(values.map((v) => encodeVarint(BigInt(v) & mask64)));
    this.tag(field, lengthDelimited);
    this.parts.push(encodeVarint(BigInt(body.length)), body);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }

  private tag(field: number, wireType: number): void {
    this.parts.push(encodeVarint(BigInt((field << 3) | wireType)));
  }
}

/** One field as read: varints as bigint, length-delimited fields as the bytes (a view, not a copy). */
export type Field = { readonly field: number; readonly varint: bigint; readonly bytes?: undefined } | { readonly field: number; readonly bytes: Buffer; readonly varint?: undefined };

/** The fields of one message, in the order written. Unknown wire types beyond protobuf's are an error. */
export function* fields(buffer: Buffer): Generator<Field> {
  let at = 0;
  while (at < buffer.length) {
    const [key, afterKey] = decodeVarint(buffer, at);
    at = afterKey;
    const field = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (wireType === varint) {
      const [value, next] = decodeVarint(buffer, at);
      at = next;
      yield { field, varint: value };
    } else if (wireType === lengthDelimited) {
      const [length, start] = decodeVarint(buffer, at);
      const end = start + Number(length);
      if (end > buffer.length) throw new Error('protobuf: a field runs past the end of its message');
      at = end;
      yield { field, bytes: buffer.subarray(start, end) };
    } else if (wireType === fixed64) {
      at += 8; // no such field in etcd's API; skipped as unknown
    } else if (wireType === fixed32) {
      at += 4;
    } else {
      throw new Error(`protobuf: unsupported wire type ${wireType}`);
    }
  }
  if (at > buffer.length) throw new Error('protobuf: truncated message');
}

/** A varint read as a signed int64, in decimal. */
export function int64(value: bigint): string {
  return BigInt.asIntN(64, value).toString();
}

/** The values of a packed (or, as protobuf allows, unpacked) repeated varint field. */
export function repeatedVarints(field: Field): bigint[] {
  if (field.varint !== undefined) return [field.varint];
  const values: bigint[] = [];
  for (let at = 0; at < field.bytes.length; ) {
    const [value, next] = decodeVarint(field.bytes, at);
    values.push(value);
    at = next;
  }
  return values;
}

export function encodeVarint(value: bigint): Buffer {
  const bytes: number[] = [];
  let n = value;
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0n);
  return Buffer.from(bytes);
}

export function decodeVarint(buffer: Buffer, start: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let at = start; at < buffer.length; at += 1) {
    const byte = buffer[at]!;
    result |= BigInt(byte & 0x7f) << shift;
    // A 10th byte carries one bit of a 64-bit value; anything above it is dropped, as protobuf does.
    if ((byte & 0x80) === 0) return [result & mask64, at + 1];
    shift += 7n;
    if (shift > 63n) throw new Error('protobuf: varint longer than 10 bytes');
  }
  throw new Error('protobuf: truncated varint');
}
