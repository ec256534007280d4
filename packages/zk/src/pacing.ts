/**
 * The heartbeat's pace for a session timeout, and what it costs: how far
 * ahead a healthy session keeps its loss deadline. No dependencies beyond
 * core, so that a caller can plan (`elect` checks `--grace`) without loading
 * the ZooKeeper client (`@elect/zk/pacing`).
 */
import { defaultSafetyMarginMs } from '@elect/core/backend';

/** Heartbeat pace for a timeout: a beat every timeout / 6, credited one leader ping interval (≤ timeout / 4) later. */
export function pacing(timeoutMs: number): { intervalMs: number; relayMs: number; kickMs: number } {
  return {
    intervalMs: Math.max(10, Math.floor(timeoutMs / 6)),
    relayMs: Math.ceil(timeoutMs / 4),
    kickMs: Math.max(10, Math.floor(timeoutMs / 3)),
  };
}

/**
 * The least time a healthy session keeps between now and its loss deadline,
 * round trips aside: about 0.4 × the timeout. A `signalAhead(lead)` with a
 * longer lead fires while nothing is wrong; leave room for round trips and
 * late timers on top.
 *
 * An answered heartbeat credits the send time of the newest beat answered a
 * relay interval before it was sent (session.ts), so in steady state (a beat
 * every interval, answered quickly) the credited contact is
 * ⌈(relay + 1 ms) / interval⌉ beats behind the newest, and one more interval
 * passes before the next answer moves it: contact up to half the timeout old,
 * and the deadline a margin before expiry. A round trip longer than the
 * slack between the relay and those whole intervals costs one more interval.
 */
export function steadyLeadMs(timeoutMs: number, safetyMarginMs: number = defaultSafetyMarginMs(timeoutMs)): number {
  const { intervalMs, relayMs } = pacing(timeoutMs);
  return timeoutMs - safetyMarginMs - (Math.ceil((relayMs + 1) / intervalMs) + 1) * intervalMs;
}
