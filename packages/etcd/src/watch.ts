/**
 * One etcd watch from a known revision, delivered as batches (all events of
 * one revision together), with restarts that neither skip nor repeat: after
 * a stream error or a member switch the watch is re-created from the
 * revision after the last one delivered.
 *
 * It ends in exactly one of three ways: the caller's signal (the iteration
 * just ends), compaction of the revision it needs (`CompactedError`: the
 * caller re-reads and starts a new watch from the read), or an error that
 * retrying cannot fix (an `ElectError`, e.g. permission denied). We do not use
 * etcd3's watch manager: it moves its resume point to the creation
 * response's revision before the older events have arrived (a restart then
 * skips them) and backs off up to 30 s.
 */
import { BackendError, type Clock, type Logger, Backoff } from '@elect/core';
import { Channel } from '@elect/core/backend';
import type { Endpoints, Pinned } from './endpoints.js';
import { isAuthTokenInvalid, isTransient, permissionDenied, toElectError } from './errors.js';
import type { TypedStream } from './wire/client.js';
import { WatchFilter, type WatchEvent as WireEvent, type WatchRequest, type WatchResponse } from './wire/messages.js';

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly key: Buffer;
  readonly value: Buffer;
  readonly createRevision: bigint;
  readonly modRevision: bigint;
  readonly lease: string;
}

/** All events of one revision. */
export interface WatchBatch {
  readonly revision: bigint;
  readonly events: readonly WatchEvent[];
}

export interface WatchSpec {
  key: Buffer;
  rangeEnd?: Buffer;
  /**
   * First revision to deliver (a read's revision + 1), or `now`: what comes
   * after the server created the watch (a caller that read before must
   * check what changed in between: see `onCreated`).
   */
  fromRevision: bigint | 'now';
  /** Deliver only deletions (a waiting candidate needs nothing else). */
  deletesOnly?: boolean;
  signal: AbortSignal;
  /**
   * Called once, when the server has confirmed the watch, with the store's
   * revision in that answer: every change after it is delivered. A watch
   * created from a revision the store has already passed is "unsynced" in
   * etcd: its events, later ones too, come from a loop that runs every
   * 100 ms. One created before the writes it waits for, or from `now`, is
   * synced, and hears them at once.
   */
  onCreated?: (revision: bigint) => void;
}

/** The revision the watch needed has been compacted away; re-read and watch again. */
export class CompactedError extends Error {
  override name = 'CompactedError';
  constructor(readonly compactRevision: bigint) {
    super(`watch revision compacted (oldest available: ${compactRevision})`);
  }
}

type Stream = TypedStream<WatchRequest, WatchResponse>;

/** What a watch needs from its connection. */
export interface WatchScope {
  endpoints: Endpoints;
  logger: Logger;
  clock: Clock;
}

export function watch(scope: WatchScope, spec: WatchSpec): Channel<WatchBatch> {
  // The stream stops when the caller's signal aborts or the consumer stops iterating.
  const stop = new AbortController();
  const channel = new Channel<WatchBatch>({ signal: spec.signal, onEnd: () => stop.abort() });
  let created = spec.onCreated;
  const onCreated = (revision: bigint): void => {
    const call = created;
    created = undefined;
    call?.(revision);
  };
  void run(scope, { ...spec, signal: stop.signal, onCreated }, channel);
  return channel;
}

async function run({ endpoints, logger, clock }: WatchScope, spec: WatchSpec, channel: Channel<WatchBatch>): Promise<void> {
  // Undefined: from `now`, until a stream is created (a restart resumes after what it reported).
  let next = spec.fromRevision === 'now' ? undefined : spec.fromRevision;
  const backoff = new Backoff({ maxMs: 1000 });
  const onCreated = (revision: bigint): void => {
    next ??= revision + 1n;
    spec.onCreated?.(revision);
  };
  while (!channel.isEnded) {
    const pinned = endpoints.pinned();
    const outcome = await session(pinned, { ...spec, onCreated }, next, channel, (batch) => {
      next = batch.revision + 1n;
      backoff.reset();
    });
    if (outcome.kind === 'ended') return;
    if (outcome.kind === 'fatal') {
      channel.fail(outcome.error);
      return;
    }
    // A broken stream, an expired token or an abandoned member: resume from `next`.
    if (outcome.kind === 'auth') endpoints.authExpired(pinned);
    if (outcome.kind === 'broken') {
      if (isTransient(outcome.error)) endpoints.failed(pinned, outcome.error);
      logger.debug({ event: 'watch-restart', err: String(outcome.error) }, 'watch stream broke; resuming');
    }
    try {
      await backoff.wait(clock, spec.signal);
    } catch {
      return; // stopped
    }
  }
}

type Outcome =
  | { kind: 'ended' }
  /** The stream's auth token expired: fetch a new one and resume. */
  | { kind: 'auth'; error: unknown }
  | { kind: 'fatal'; error: unknown }
  | { kind: 'broken'; error: unknown }
  | { kind: 'switched' };

/** One stream: resolves when it can no longer deliver. */
async function session(
  pinned: Pinned,
  spec: WatchSpec,
  from: bigint | undefined,
  channel: Channel<WatchBatch>,
  delivered: (batch: WatchBatch) => void,
): Promise<Outcome> {
  let stream: Stream;
  try {
    stream = await pinned.client.watch();
  } catch (error) {
    if (refusedToken(pinned, error)) return { kind: 'auth', error };
    return isTransient(error) ? { kind: 'broken', error } : { kind: 'fatal', error: toElectError(error, 'watch') };
  }
  return await new Promise<Outcome>((resolve) => {
    let done = false;
    const finish = (outcome: Outcome): void => {
      if (done) return;
      done = true;
      spec.signal.removeEventListener('abort', onStop);
      pinned.signal.removeEventListener('abort', onSwitch);
      stream.cancel();
      resolve(outcome);
    };
    const onStop = (): void => finish({ kind: 'ended' });
    const onSwitch = (): void => finish({ kind: 'switched' });
    if (spec.signal.aborted || channel.isEnded) return finish({ kind: 'ended' });
    if (pinned.signal.aborted) return finish({ kind: 'switched' });
    spec.signal.addEventListener('abort', onStop, { once: true });
    pinned.signal.addEventListener('abort', onSwitch, { once: true });

    stream.onMessage((res) => {
      if (done) return;
      if (res.created) spec.onCreated?.(BigInt(res.header.revision));
      if (res.canceled) {
        const compacted = BigInt(res.compact_revision || '0');
        if (compacted > 0n) return finish({ kind: 'fatal', error: new CompactedError(compacted) });
        const reason = res.cancel_reason || 'watch canceled by the server';
        const error = /permission denied/i.test(reason) ? permissionDenied('watch', reason) : new BackendError(`watch: ${reason}`, { retryable: false });
        if (refusedToken(pinned, reason)) return finish({ kind: 'auth', error });
        // Any other cancel without compaction is etcd refusing the watch (e.g. permission denied).
        return finish({ kind: 'fatal', error });
      }
      for (const batch of batches(res.events ?? [])) {
        if (channel.isEnded) return finish({ kind: 'ended' });
        channel.push(batch);
        delivered(batch);
      }
    });
    stream.onEnd((error) => {
      if (error === undefined) return finish({ kind: 'broken', error: new Error('watch stream ended') });
      if (refusedToken(pinned, error)) return finish({ kind: 'auth', error });
      finish(isTransient(error) ? { kind: 'broken', error } : { kind: 'fatal', error: toElectError(error, 'watch') });
    });
    stream.write({
      create_request: {
        key: spec.key,
        ...(spec.rangeEnd && { range_end: spec.rangeEnd }),
        ...(from !== undefined && { start_revision: from.toString() }),
        ...(spec.deletesOnly && { filters: [WatchFilter.NoPut] }),
      },
    });
  });
}

/** etcd refused the token we sent (without credentials we sent none, and another won't help). */
function refusedToken(pinned: Pinned, error: unknown): boolean {
  return pinned.client.authenticates && isAuthTokenInvalid(error);
}

function* batches(events: readonly WireEvent[]): Generator<WatchBatch> {
  let current: WatchEvent[] = [];
  let revision = -1n;
  for (const ev of events) {
    const event = toEvent(ev);
    if (event.modRevision !== revision && current.length > 0) {
      yield { revision, events: current };
      current = [];
    }
    revision = event.modRevision;
    current.push(event);
  }
  if (current.length > 0) yield { revision, events: current };
}

function toEvent(ev: WireEvent): WatchEvent {
  const kv = ev.kv;
  return {
    type: ev.type === 'Delete' ? 'delete' : 'put',
    key: kv.key,
    value: kv.value,
    createRevision: BigInt(kv.create_revision),
    modRevision: BigInt(kv.mod_revision),
    lease: kv.lease,
  };
}
