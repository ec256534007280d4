/**
 * The heartbeat's pace for a session timeout, and what it costs: how far
 * ahead a healthy session keeps its loss deadline. No dependencies beyond
 * core, so that a caller can plan (`elect` checks `--grace`) without loading
 * the ZooKeeper client (`@elect/zk/pacing`).
 */
import { defaultSafetyMarginMs } from '@elect/core/backend';

/**
 * Heartbeat pace for a timeout: a beat every timeout / 8, credited one leader
 * ping interval (≤ timeout / 4) later; suspended when one is unanswered for
 * timeout / 6, and the connection dropped timeout / 3 after it was sent and
 * every timeout / 3 after that.
 *
 * Why an eighth: the credit moves in whole intervals, so a round trip longer
 * than the slack between the relay and the intervals that span it costs a
 * whole interval of lead. At an eighth that slack is a whole interval
 * (timeout / 8: 250 ms at the shortest timeout, 2 s), at least the room a
 * caller keeps for round trips and late timers on top of `steadyLeadMs` (the
 * CLI keeps 250 ms or a fifteenth of the TTL). At a sixth it was a twelfth,
 * 166 ms at 2 s: a beat answered 170 ms late, common on a busy two-core host,
 * cost a third of the lead at once and stopped a healthy `elect run`.
 */
export function pacing(timeoutMs: number): { intervalMs: number; relayMs: number; silenceMs: number; kickMs: number } {
  return {
    intervalMs: Math.max(10, Math.floor(timeoutMs / 8)),
    relayMs: Math.ceil(timeoutMs / 4),
    silenceMs: Math.max(10, Math.floor(timeoutMs / 6)),
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
 * and the deadline a margin before expiry. Round trips up to the slack
 * between the relay and those whole intervals (timeout / 8, see `pacing`)
 * cost only themselves; a longer one costs one more interval.
 */
export function steadyLeadMs(timeoutMs: number, safetyMarginMs: number = defaultSafetyMarginMs(timeoutMs)): number {
  const { intervalMs, relayMs } = pacing(timeoutMs);
  return timeoutMs - safetyMarginMs - (Math.ceil((relayMs + 1) / intervalMs) + 1) * intervalMs;
}
