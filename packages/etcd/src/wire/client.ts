/**
 * The etcd v3 calls elect makes, to one member: KV Range and Txn; Lease
 * Grant, Revoke, TimeToLive and the KeepAlive stream; the Watch stream;
 * Maintenance Status (to check a member answers); and Auth Authenticate for a user and password, whose token goes with every
 * call as etcd expects (metadata `token`).
 *
 * A token etcd no longer accepts is fetched again once for a unary call; a
 * stream opened with it is refused, and the caller opens another, which
 * authenticates afresh (see `invalidateToken`). etcd refuses a token when a
 * simple token expired unused or a restarted member forgot it ("invalid auth
 * token"), when users or roles changed since it was issued ("revision of auth
 * store is old"), and when it never reached the server ("user name is
 * empty") — the three errors on which Go's clientv3 also authenticates again.
 */
import { systemClock, type Clock, within } from '@elect/core';
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

/** A call with less time than this left is not sent: it could only time out, its outcome unknown. */
const minimumCallMs = 10;

export interface MemberClientOptions extends ChannelOptions {
  /** Every unary call's deadline. */
  operationTimeoutMs: number;
  auth?: { username: string; password: string };
}

/** A stream of etcd messages (decoded), requests in, responses out. */
export type TypedStream<Req, Res> = Stream<Req, Res>;

export class MemberClient {
  private readonly channel: Channel;
  private readonly clock: Clock;
  private token: Promise<string> | undefined;
  /** The token `token` resolved to, once it has. */
  private current: string | undefined;

  constructor(
    readonly host: string,
    private readonly options: MemberClientOptions,
  ) {
    this.channel = new Channel(host, options);
    this.clock = options.clock ?? systemClock;
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

  /**
   * Whether the member answers (no quorum, no key permission needed): its
   * status. With auth on, etcd 3.6 (and 3.5.28) let only root read it; a
   * member that refuses us that, after taking our credentials, has answered.
   */
  async status(timeoutMs?: number): Promise<void> {
    try {
      await this.call('/etcdserverpb.Maintenance/Status', Buffer.alloc(0), decode.status, timeoutMs);
    } catch (error) {
      if (error instanceof GrpcError && error.code === Status.PERMISSION_DENIED && this.options.auth) return;
      throw error;
    }
  }

  /** Opens a LeaseKeepAlive stream (after authenticating, if we must). */
  async leaseKeepAlive(): Promise<TypedStream<{ ID: string }, LeaseKeepAliveResponse>> {
    return typed(this.channel.stream('/etcdserverpb.Lease/LeaseKeepAlive', await this.metadata()), encode.leaseKeepAlive, decode.leaseKeepAlive);
  }

  /**
   * Opens a Watch stream (after authenticating, if we must). `hasleader`:
   * a member without a raft leader refuses it, and cancels it when it loses
   * its leader ("etcdserver: no leader") — it could not tell us of changes
   * the rest of the cluster makes, so the watch moves to another member.
   */
  async watch(): Promise<TypedStream<WatchRequest, WatchResponse>> {
    const { metadata } = await this.metadata();
    return typed(this.channel.stream('/etcdserverpb.Watch/Watch', { metadata: { ...metadata, hasleader: 'true' } }), encode.watch, decode.watch);
  }

  /**
   * A token was refused: the next call or stream authenticates again. Only
   * the token `refused` is dropped (when given): a newer one fetched by
   * another call in the meantime stays.
   */
  invalidateToken(refused?: string): void {
    if (refused === undefined || this.current === refused) {
      this.token = undefined;
      this.current = undefined;
    }
  }

  /** Drops the connection: calls on it fail, the next one reconnects (a member gone silent). */
  reset(): void {
    this.channel.reset();
  }

  close(): void {
    this.channel.close();
  }

  /** Whether calls carry a token (a user and password were given). */
  get authenticates(): boolean {
    return this.options.auth !== undefined;
  }

  /**
   * One unary call within one deadline, authentication included: a token
   * etcd refuses is fetched again and the call sent once more, in what is
   * left of it. Too little left to be worth sending fails here, unsent.
   */
  private async call<T>(path: string, request: Buffer, decoder: (b: Buffer) => T, timeoutMs?: number): Promise<T> {
    const timeout = Math.min(timeoutMs ?? Infinity, this.options.operationTimeoutMs);
    const until = this.clock.now() + timeout;
    const send = async (): Promise<{ answer: Buffer } | { refused: string | undefined; error: unknown }> => {
      const token = await this.tokenWithin(path, until);
      const left = until - this.clock.now();
      if (left < minimumCallMs) throw new GrpcError(Status.DEADLINE_EXCEEDED, `${path}: no time left to send it (deadline ${Math.round(timeout)} ms)`);
      try {
        return { answer: await this.channel.unary(path, request, { timeoutMs: left, ...(token !== undefined && { metadata: { token } }) }) };
      } catch (error) {
        if (token === undefined || !isInvalidToken(error)) throw error;
        return { refused: token, error };
      }
    };
    const first = await send();
    if ('answer' in first) return decoder(first.answer);
    this.invalidateToken(first.refused);
    const again = await send();
    if ('answer' in again) return decoder(again.answer);
    throw again.error;
  }

  /** The token (none without auth), waiting for it at most until `until`. */
  private async tokenWithin(path: string, until: number): Promise<string | undefined> {
    if (!this.options.auth) return undefined;
    const pending = this.metadata();
    pending.catch(() => {});
    const got = await within(this.clock, pending, Math.max(0, until - this.clock.now()));
    if (got === undefined) throw new GrpcError(Status.DEADLINE_EXCEEDED, `${path}: no auth token within the deadline`);
    return got.metadata?.token;
  }

  private async metadata(): Promise<Pick<CallOptions, 'metadata'>> {
    const auth = this.options.auth;
    if (!auth) return {};
    const token = (this.token ??= this.authenticate(auth).then(
      (value) => {
        if (this.token === token) this.current = value;
        return value;
      },
      (error: unknown) => {
        if (this.token === token) this.token = undefined;
        throw error;
      },
    ));
    return { metadata: { token: await token } };
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

/** The server messages of a refused token (see the top of this file). */
const refusedToken = ['invalid auth token', 'revision of auth store is old', 'user name is empty'];

/** etcd refused our auth token: `error` is a GrpcError, an error caused by one, or a watch's cancel reason. */
export function isInvalidToken(error: unknown): boolean {
  const text = error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? '')}` : String(error);
  return refusedToken.some((message) => text.includes(message));
}
