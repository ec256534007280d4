/**
 * A library candidate in the soak: one process, one connection, campaigning
 * again after every loss. While it leads it writes to the fenced store every
 * few milliseconds, and stops the moment `leadership.signal` aborts — what a
 * service using elect as a library does.
 *
 * `unsafeMs` makes it a deliberately bad candidate for the checker's control
 * run: it ignores the loss and keeps writing for that long after it.
 *
 * Run as `node candidate.js '<json CandidateConfig>'`; SIGTERM ends it
 * gracefully (bye to the store, resign, close).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Election, Leadership } from '@elect/core';
import { linkSignals } from '@elect/core/backend';
import { jsonLogger } from './log.js';
import { StoreClient, now } from './store.js';

export interface CandidateConfig {
  backend: 'zk' | 'etcd';
  connect: string;
  election: string;
  id: string;
  ttlMs: number;
  store: string;
  writeEveryMs: number;
  unsafeMs?: number;
  /** A priority election: this candidate's priority, and whether it preempts. */
  priority?: number;
  preempt?: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as CandidateConfig;
const logger = jsonLogger({ id: config.id });
const stop = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop.abort(signal));

async function connect(): Promise<{ election: Election; close: () => Promise<void> }> {
  if (config.backend === 'zk') {
    const { connectZooKeeper } = await import('@elect/zk');
    const conn = await connectZooKeeper({ connectString: config.connect, sessionTimeoutMs: config.ttlMs, logger });
    return { election: conn.election(config.election), close: () => conn.close() };
  }
  const { connectEtcd } = await import('@elect/etcd');
  const conn = await connectEtcd({ endpoints: config.connect, ttlMs: config.ttlMs, logger });
  return { election: conn.election(config.election), close: () => conn.close() };
}

/** Writes while `until` has not aborted; resolves once the store has recorded the term's end. */
async function term(leadership: Leadership): Promise<void> {
  const electedAt = now();
  const store = new StoreClient(config.store);
  await store.hello(config.id, leadership.token, electedAt);
  let end = leadership.signal;
  if (config.unsafeMs !== undefined) {
    // The control: carry on past the loss.
    const unsafe = new AbortController();
    leadership.signal.addEventListener('abort', () => setTimeout(() => unsafe.abort(), config.unsafeMs), { once: true });
    end = unsafe.signal;
  }
  // Linked, and released after the term: `stop` lives as long as the process.
  const until = linkSignals([end, stop.signal]);
  try {
    for (let seq = 1; !until.signal.aborted; seq++) {
      await store.write(seq);
      await delay(config.writeEveryMs, undefined, { signal: until.signal }).catch(() => {});
    }
  } finally {
    until.release();
  }
  await store.bye();
}

async function main(): Promise<void> {
  const { election, close } = await connect();
  while (!stop.signal.aborted) {
    let leadership: Leadership;
    try {
      const rank = config.priority === undefined ? {} : { priority: config.priority, preempt: config.preempt === true };
      leadership = await election.campaign({ id: config.id, signal: stop.signal, ...rank });
    } catch (error) {
      if (stop.signal.aborted) break;
      logger.warn({ event: 'campaign-failed', err: error }, 'campaign failed; again shortly');
      await delay(100);
      continue;
    }
    await term(leadership);
    await leadership.resign().catch(() => {});
  }
  await close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    logger.error({ event: 'candidate-failed', err: error }, 'candidate failed');
    process.exit(1);
  },
);
