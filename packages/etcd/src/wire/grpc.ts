/**
 * gRPC over Node's own HTTP/2, as much of it as etcd's API needs: unary calls
 * with a deadline, and bidirectional streams (Watch, LeaseKeepAlive). No
 * compression, no service config, no load balancing: one member, one HTTP/2
 * connection, opened on first use and again after it fails.
 *
 * The protocol (grpc/grpc's PROTOCOL-HTTP2.md): a POST to
 * `/<package>.<Service>/<Method>` with `content-type: application/grpc` and
 * `te: trailers`; each message in either direction is framed as one byte
 * (compressed: 0) and a 4-byte big-endian length; the outcome is the
 * `grpc-status` (and `grpc-message`, percent-encoded) trailer — or header,
 * for a response that is only trailers.
 */
import http2 from 'node:http2';
import type { SecureContextOptions } from 'node:tls';
import { systemClock, type Clock } from '@elect/core';

/** gRPC status codes we act on. */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A call that ended without an answer: a gRPC status from the server, or a transport failure (UNAVAILABLE). */
export class GrpcError extends Error {
  override name = 'GrpcError';
  constructor(
    readonly code: number,
    readonly details: string,
    options?: { cause?: unknown },
  ) {
    super(`${codeName(code)}: ${details}`, options);
  }
}

/** A call on a channel we closed: it never went out. */
export class ChannelClosedError extends GrpcError {
  override name = 'ChannelClosedError';
  constructor() {
    super(Status.CANCELLED, 'the channel is closed');
  }
}

export interface ChannelOptions {
  /** TLS material; without it the channel speaks plain-text HTTP/2 (h2c). */
  tls?: SecureContextOptions & { servername?: string };
  clock?: Clock;
  /**
   * Liveness of the connection itself: while a stream is open, an HTTP/2
   * PING every `pingEveryMs`; no acknowledgement within `pingTimeoutMs`, or
   * no connection within `pingTimeoutMs` of dialling, and the connection is
   * dropped (every call on it fails, UNAVAILABLE). A member that is stopped
   * or cut off answers nothing and TCP may never say so; a watch alone would
   * wait on it for ever. Leave both out for no pings.
   */
  pingEveryMs?: number;
  pingTimeoutMs?: number;
}

export interface CallOptions {
  /** Milliseconds from now; the call fails with DEADLINE_EXCEEDED after it. */
  timeoutMs?: number;
  metadata?: Record<string, string>;
}

/** One bidirectional stream: write requests, read responses; it ends once, with an error or cleanly. */
export interface Stream<Req = Buffer, Res = Buffer> {
  write(request: Req): void;
  /** Half-closes our side (no more requests). */
  end(): void;
  /** Abandons the stream (RST_STREAM CANCEL). */
  cancel(): void;
  /** Each response, in order. */
  onMessage(listener: (response: Res) => void): void;
  /** Once, when the stream is over: undefined for a clean end (status OK). */
  onEnd(listener: (error: GrpcError | undefined) => void): void;
}

export class Channel {
  private session: http2.ClientHttp2Session | undefined;
  private closed = false;
  private readonly clock: Clock;

  constructor(
    /** `host:port` */
    private readonly address: string,
    private readonly options: ChannelOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /** One request, one answer. Rejects with a GrpcError. */
  unary(path: string, request: Buffer, call: CallOptions = {}): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      let answer: Buffer | undefined;
      const stream = this.open(path, call);
      stream.onMessage((message) => (answer ??= message));
      stream.onEnd((error) => {
        if (error) reject(error);
        else if (answer === undefined) reject(new GrpcError(Status.INTERNAL, `${path}: the server answered nothing`));
        else resolve(answer);
      });
      stream.write(request);
      stream.end();
    });
  }

  /** A bidirectional stream (Watch, LeaseKeepAlive). */
  stream(path: string, call: Omit<CallOptions, 'timeoutMs'> = {}): Stream {
    return this.open(path, call);
  }

  /**
   * Drops the connection: every call on it fails (UNAVAILABLE), the next call
   * opens a new one. For a member that has gone silent: TCP may never say so.
   */
  reset(): void {
    const session = this.session;
    this.session = undefined;
    session?.destroy();
  }

  close(): void {
    this.closed = true;
    this.reset();
  }

  private connection(): http2.ClientHttp2Session {
    if (this.closed) throw new ChannelClosedError();
    const current = this.session;
    if (current && !current.closed && !current.destroyed) return current;
    const tls = this.options.tls;
    const session = http2.connect(`${tls ? 'https' : 'http'}://${this.address}`, {
      ...(tls ?? {}),
      // etcd answers with large windows; ours should not make it wait.
      settings: { initialWindowSize: 1 << 20 },
    });
    this.session = session;
    const stopPings = this.watchLiveness(session);
    const drop = (): void => {
      stopPings();
      if (this.session === session) this.session = undefined;
    };
    // An error ends the session; each stream on it reports its own failure.
    session.on('error', drop);
    session.on('close', drop);
    // The server is going away: new calls go to a new connection; the streams
    // still open finish on this one (Node closes it after them), and it is
    // pinged until then — a member may go silent after saying goodbye.
    session.on('goaway', () => {
      if (this.session === session) this.session = undefined;
    });
    // An open connection keeps the process alive, as any client's would,
    // until close(): a leader with nothing else to do stays leader.
    return session;
  }

  /**
   * Dials with a deadline, then pings while any stream is open; a silent
   * connection is destroyed (see `pingEveryMs`). Returns the function that stops it.
   */
  private watchLiveness(session: http2.ClientHttp2Session): () => void {
    const { pingEveryMs, pingTimeoutMs } = this.options;
    if (pingEveryMs === undefined || pingTimeoutMs === undefined) return () => {};
    let cancel = (): void => {};
    let stopped = false;
    const dead = (why: string): void => {
      stopped = true;
      if (this.session === session) this.session = undefined;
      // Every stream on it fails with this error (UNAVAILABLE, transient: callers move on).
      session.destroy(new Error(why));
    };
    const next = (): void => {
      if (stopped) return;
      cancel = this.clock.schedule(() => {
        if (stopped || session.destroyed || session.closed) return;
        if (!this.busy(session)) return next();
        let answered = false;
        const cancelTimeout = this.clock.schedule(() => {
          if (!answered) dead(`no answer to a ping within ${pingTimeoutMs} ms`);
        }, pingTimeoutMs);
        cancel = () => cancelTimeout();
        const sent = session.ping((error) => {
          answered = true;
          cancelTimeout();
          if (error) return; // the session is ending: its streams report that
          next();
        });
        if (!sent) {
          cancelTimeout();
          next();
        }
      }, pingEveryMs);
    };
    // A connection that never completes (a dropped SYN, a TLS handshake left hanging).
    cancel = this.clock.schedule(() => {
      if (stopped || session.destroyed || session.closed) return;
      if (!this.isConnected(session)) return dead(`not connected within ${pingTimeoutMs} ms`);
      next();
    }, pingTimeoutMs);
    session.once('connect', () => {
      if (stopped) return;
      cancel();
      next();
    });
    return () => {
      stopped = true;
      cancel();
    };
  }

  private isConnected(session: http2.ClientHttp2Session): boolean {
    return !session.connecting && !session.destroyed;
  }

  /** Whether streams are open on `session` (pings are needed only then). */
  private busy(session: http2.ClientHttp2Session): boolean {
    return (this.streams.get(session) ?? 0) > 0;
  }

  private readonly streams = new WeakMap<http2.ClientHttp2Session, number>();

  private open(path: string, call: CallOptions): Stream {
    const messageListeners: Array<(message: Buffer) => void> = [];
    const endListeners: Array<(error: GrpcError | undefined) => void> = [];
    let ended: { error: GrpcError | undefined } | undefined;
    const finish = (error: GrpcError | undefined): void => {
      if (ended) return;
      ended = { error };
      cancelTimer();
      for (const listener of endListeners.splice(0)) listener(error);
    };
    let cancelTimer = (): void => {};

    let request: http2.ClientHttp2Stream;
    // Whether this request may have left us: its stream got an id on a connected session.
    let mayHaveSent = false;
    try {
      const session = this.connection();
      const headers: http2.OutgoingHttpHeaders = {
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...(call.timeoutMs !== undefined && { 'grpc-timeout': `${Math.max(1, Math.ceil(call.timeoutMs))}m` }),
        ...call.metadata,
      };
      request = session.request(headers);
      // On a connected session the stream gets its id (and 'ready') inside request().
      if (!request.pending) mayHaveSent = true;
      else request.once('ready', () => (mayHaveSent = true));
      this.streams.set(session, (this.streams.get(session) ?? 0) + 1);
      request.once('close', () => this.streams.set(session, (this.streams.get(session) ?? 1) - 1));
    } catch (error) {
      const failed = error instanceof GrpcError ? error : new GrpcError(Status.UNAVAILABLE, `No connection established: ${String(error)}`, { cause: error });
      queueMicrotask(() => finish(failed));
      return {
        write: () => {},
        end: () => {},
        cancel: () => {},
        onMessage: () => {},
        onEnd: (listener) => (ended ? listener(ended.error) : endListeners.push(listener)),
      };
    }

    if (call.timeoutMs !== undefined) {
      cancelTimer = this.clock.schedule(() => {
        finish(new GrpcError(Status.DEADLINE_EXCEEDED, `${path}: no answer within ${Math.round(call.timeoutMs as number)} ms`));
        request.close(http2.constants.NGHTTP2_CANCEL);
      }, call.timeoutMs);
    }

    let pending: Buffer = Buffer.alloc(0);
    let status: { code: number; message: string } | undefined;
    const readStatus = (headers: http2.IncomingHttpHeaders): void => {
      const code = headers['grpc-status'];
      if (code === undefined) return;
      const text = headers['grpc-message'];
      const number = Number(code);
      status = { code: Number.isInteger(number) ? number : Status.UNKNOWN, message: decodeMessage(Array.isArray(text) ? text.join(',') : (text ?? '')) };
    };
    request.on('response', (headers) => {
      const httpStatus = headers[':status'];
      if (httpStatus !== 200) {
        finish(new GrpcError(fromHttpStatus(Number(httpStatus)), `${path}: HTTP status ${String(httpStatus)}`));
        request.close(http2.constants.NGHTTP2_CANCEL);
        return;
      }
      readStatus(headers); // a trailers-only answer
    });
    request.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 5) {
        const length = pending.readUInt32BE(1);
        if (pending.length < 5 + length) break;
        if (pending[0] !== 0) {
          finish(new GrpcError(Status.INTERNAL, `${path}: a compressed message, which we never asked for`));
          request.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        const message = pending.subarray(5, 5 + length);
        pending = pending.subarray(5 + length);
        try {
          if (!ended) for (const listener of messageListeners) listener(message);
        } catch (error) {
          // A message we cannot read (listeners decode it), or a listener's own
          // failure: the stream is of no more use, and the same message would
          // come again on another (DATA_LOSS is no status worth a retry).
          finish(new GrpcError(Status.DATA_LOSS, `${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
          request.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
      }
    });
    request.on('trailers', readStatus);
    request.on('error', (error: NodeJS.ErrnoException) => {
      const prefix = mayHaveSent ? '' : 'No connection established: ';
      finish(new GrpcError(Status.UNAVAILABLE, `${prefix}${path}: ${error.message}`, { cause: error }));
    });
    request.on('close', () => {
      if (status) return finish(status.code === Status.OK ? undefined : new GrpcError(status.code, status.message));
      const code = request.rstCode;
      const prefix = mayHaveSent ? '' : 'No connection established: ';
      finish(new GrpcError(code === http2.constants.NGHTTP2_CANCEL ? Status.CANCELLED : Status.UNAVAILABLE, `${prefix}${path}: stream closed (RST_STREAM ${String(code)})`));
    });
    request.on('end', () => {});
    request.resume();

    return {
      write: (message) => {
        if (ended || request.closed || request.writableEnded) return;
        const frame = Buffer.allocUnsafe(5 + message.length);
        frame[0] = 0;
        frame.writeUInt32BE(message.length, 1);
        message.copy(frame, 5);
        request.write(frame);
      },
      end: () => {
        if (!request.writableEnded && !request.destroyed) request.end();
      },
      cancel: () => {
        finish(new GrpcError(Status.CANCELLED, `${path}: cancelled`));
        if (!request.closed) request.close(http2.constants.NGHTTP2_CANCEL);
      },
      onMessage: (listener) => messageListeners.push(listener),
      onEnd: (listener) => (ended ? listener(ended.error) : endListeners.push(listener)),
    };
  }
}

/** The gRPC status for an HTTP status other than 200 (grpc/grpc's http-grpc-status-mapping.md). */
function fromHttpStatus(status: number): number {
  switch (status) {
    case 400:
      return Status.INTERNAL;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Status.UNAVAILABLE;
    default:
      return Status.UNKNOWN;
  }
}

/** grpc-message is percent-encoded (PROTOCOL-HTTP2.md). */
function decodeMessage(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function codeName(code: number): string {
  const name = Object.entries(Status).find(([, value]) => value === code)?.[0];
  return name ?? `status ${code}`;
}
