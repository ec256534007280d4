/**
 * Expiring the ZooKeeper session of another process (an `elect` under test).
 * The harness's `expireSession` needs the session's id and password; `elect`
 * logs the id (`{"event":"connected","session":"0x…"}`), and the server
 * derives the password from the id alone:
 *
 *   ZooKeeperServer.generatePasswd(id) = 16 bytes of new java.util.Random(id ^ 0xB3415C00)
 *
 * so a test can compute it and end the session for real, on the server, while
 * `elect` itself notices nothing until the server tells it.
 */
import { expireSession } from '@elect/test';

const mask = (1n << 48n) - 1n;
const multiplier = 0x5deece66dn;

/** java.util.Random(seed).nextBytes(new byte[16]). */
function javaRandomBytes(seed: bigint, length: number): Buffer {
  let state = (BigInt.asIntN(64, seed) ^ multiplier) & mask;
  const nextInt = (): number => {
    state = (state * multiplier + 0xbn) & mask;
    return Number(BigInt.asIntN(32, state >> 16n));
  };
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; ) {
    let rnd = nextInt();
    for (let n = Math.min(length - i, 4); n-- > 0; rnd >>= 8) out[i++] = rnd & 0xff;
  }
  return out;
}

export function sessionPassword(sessionIdHex: string): Buffer {
  const id = BigInt.asIntN(64, BigInt(sessionIdHex));
  return javaRandomBytes(id ^ 0xb3415c00n, 16);
}

/** Ends session `sessionIdHex` on the server at `connectString`. */
export async function expireSessionById(connectString: string, sessionIdHex: string): Promise<void> {
  const sessionId = Buffer.from(BigInt.asUintN(64, BigInt(sessionIdHex)).toString(16).padStart(16, '0'), 'hex');
  await expireSession(connectString, { sessionId, sessionPassword: sessionPassword(sessionIdHex) });
}
