/**
 * What a candidate stores on the server. Peers in other languages read it:
 * Curator's LeaderLatch takes a znode's data as the participant id, and
 * `etcdctl elect` prints a key's value as the proposal. So the payload is the
 * id alone unless a different value was set; then it is `id`, a newline, and
 * the value. Ids cannot contain line breaks, so the first line is always the id.
 */
export function encodePayload(id: string, value: string = id): string {
  return value === id ? id : `${id}\n${value}`;
}

export function decodePayload(payload: string): { id: string; value: string } {
  const newline = payload.indexOf('\n');
  if (newline < 0) return { id: payload, value: payload };
  return { id: payload.slice(0, newline), value: payload.slice(newline + 1) };
}
