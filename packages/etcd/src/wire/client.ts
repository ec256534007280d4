/**
 * The etcd v3 calls elect makes, to one member: KV Range and Txn; Lease
 * Grant, Revoke, TimeToLive and the KeepAlive stream; the Watch stream;
 * Maintenance Status (to check a member answers); and Auth Authenticate for a user and password, whose token goes with every
 * call as etcd expects (metadata `token`).
 *
 * A token etcd no longer accepts (simple tokens expire unused; a restarted
 * member forgets them) is fetched again once for a unary call; a stream
 * opened with it is refused, and the caller opens another, which
 * authenticates afresh (see `invalidateToken`).
 */
import { Channel, GrpcError, Status, type CallOptions, type ChannelOptions, type Stream } from './grpc.js';
import {
  decode,
  encode,
  type AuthenticateResponse,
  type HeaderOnly,
  type LeaseGrantResponse,
  type LeaseKeepAliveResponse,
  type LeaseTimeToLiveResponse,
  type RangeRequest,
  type RangeResponse,
  type TxnRequest,
  type TxnResponse,
  type WatchRequest,
  type WatchResponse,
} from './messages.js';

export interface MemberClientOptions extends ChannelOptions {
  /** Every unary call's deadline. */
  operationTimeoutMs: number;
  auth?: { username: string; password: string };
}

/** A stream of etcd messages (decoded), requests in, responses out. */
export type TypedStream<Req, Res> = Stream<Req, Res>;

export class MemberClient {
  private readonly channel: Channel;
  private token: Promise<string> | undefined;

  constructor(
    readonly host: string,
    private readonly options: MemberClientOptions,
  ) {
    this.channel = new Channel(host, options);
  }

  range(request: RangeRequest): Promise<RangeResponse> {
    return this.call('/etcdserverpb.KV/Range', encode.range(request), decode.range);
  }

  txn(request: TxnRequest): Promise<TxnResponse> {
    return this.call('/etcdserverpb.KV/Txn', encode.txn(request), decode.txn);
  }

  leaseGrant(request: { TTL: string | number; ID?: string }, timeoutMs?: number): Promise<LeaseGrantResponse> {
    return this.call('/etcdserverpb.Lease/LeaseGrant', encode.leaseGrant(request), decode.leaseGrant, timeoutMs);
  }

  leaseRevoke(request: { ID: string }, timeoutMs?: number): Promise<HeaderOnly> {
    return this.call('/etcdserverpb.Lease/LeaseRevoke', encode.leaseRevoke(request), decode.leaseRevoke, timeoutMs);
  }

  leaseTimeToLive(request: { ID: string; keys?: boolean }, timeoutMs?: number): Promise<LeaseTimeToLiveResponse> {
    return this.call('/etcdserverpb.Lease/LeaseTimeToLive', encode.leaseTimeToLive(request), decode.leaseTimeToLive, timeoutMs);
  }

  /** The member's status: any member that answers it serves us (no quorum, no key permission needed). */
  status(timeoutMs?: number): Promise<HeaderOnly> {
    return this.call('/etcdserverpb.Maintenance/Status', Buffer.alloc(0), decode.status, timeoutMs);
  }

  /** Opens a LeaseKeepAlive stream (after authenticating, if we must). */
  async leaseKeepAlive(): Promise<TypedStream<{ ID: string }, LeaseKeepAliveResponse>> {
    return typed(this.channel.stream('/etcdserverpb.Lease/LeaseKeepAlive', await this.metadata()), encode.leaseKeepAlive, decode.leaseKeepAlive);
  }

  /** Opens a Watch stream (after authenticating, if we must). */
  async watch(): Promise<TypedStream<WatchRequest, WatchResponse>> {
    return typed(this.channel.stream('/etcdserverpb.Watch/Watch', await this.metadata()), encode.watch, decode.watch);
  }

  /** The token was refused: the next call or stream authenticates again. */
  invalidateToken(): void {
    this.token = undefined;
  }

  /** Drops the connection: calls on it fail, the next one reconnects (a member gone silent). */
  reset(): void {
    this.channel.reset();
  }

  close(): void {
    this.channel.close();
  }

  private async call<T>(path: string, request: Buffer, decoder: (b: Buffer) => T, timeoutMs?: number): Promise<T> {
    const timeout = Math.min(timeoutMs ?? Infinity, this.options.operationTimeoutMs);
    try {
      return decoder(await this.channel.unary(path, request, { timeoutMs: timeout, ...(await this.metadata()) }));
    } catch (error) {
      if (!isInvalidToken(error) || !this.options.auth) throw error;
      this.invalidateToken();
      return decoder(await this.channel.unary(path, request, { timeoutMs: timeout, ...(await this.metadata()) }));
    }
  }

  private async metadata(): Promise<Pick<CallOptions, 'metadata'>> {
    const auth = this.options.auth;
    if (!auth) return {};
    this.token ??= this.authenticate(auth).catch((error: unknown) => {
      this.token = undefined;
      throw error;
    });
    return { metadata: { token: await this.token } };
  }

  private async authenticate(auth: { username: string; password: string }): Promise<string> {
    const answer = await this.channel.unary('/etcdserverpb.Auth/Authenticate', encode.authenticate({ name: auth.username, password: auth.password }), {
      timeoutMs: this.options.operationTimeoutMs,
    });
    const res: AuthenticateResponse = decode.authenticate(answer);
    return res.token;
  }
}

function typed<Req, Res>(stream: Stream, encoder: (r: Req) => Buffer, decoder: (b: Buffer) => Res): TypedStream<Req, Res> {
  return {
    write: (request) => stream.write(encoder(request)),
    end: () => stream.end(),
    cancel: () => stream.cancel(),
    onMessage: (listener) => stream.onMessage((message) => listener(decoder(message))),
    onEnd: (listener) => stream.onEnd(listener),
  };
}

/** etcd refused our auth token (expired, or the member restarted). */
export function isInvalidToken(error: unknown): boolean {
  return error instanceof GrpcError && error.code === Status.UNAUTHENTICATED && error.details.includes('invalid auth token');
}
