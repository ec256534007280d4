/**
 * ZooKeeper session expiry on demand, in milliseconds instead of a session
 * timeout: attach to the session with its id and password, then close it.
 * Closing ends the session on the server (its ephemerals go) and the original
 * client is told `expired` when it next reaches a server. Stopping a server
 * does not do this: sessions survive a server restart.
 *
 * Why raw protocol instead of a second node-zookeeper-client: attaching kicks
 * the original client off the server, node-zookeeper-client reconnects within
 * a millisecond and takes the session back, and the second client's close
 * then often arrives on a connection the server has already dropped. Sending
 * the ConnectRequest and the closeSession in one write leaves no such window:
 * the server handles both, in order, before the original client is back.
 */
import net from 'node:net';
import { scaled, withTimeout } from './timing.js';

export interface SessionCredentials {
  sessionId: Buffer;
  sessionPassword: Buffer;
}

/** A node-zookeeper-client `Client` (only the two getters are needed). */
export interface SessionHolder {
  getSessionId(): Buffer;
  getSessionPassword(): Buffer;
}

const CLOSE_SESSION = -11;

/** ConnectRequest (reattach) followed by closeSession, each length-prefixed as ZooKeeper frames them. */
function attachAndClose({ sessionId, sessionPassword }: SessionCredentials): Buffer {
  const connect = Buffer.alloc(4 + 8 + 4 + 8 + 4 + sessionPassword.length + 1);
  let at = connect.writeInt32BE(0, 0); // protocolVersion
  at = connect.writeBigInt64BE(0n, at); // lastZxidSeen
  at = connect.writeInt32BE(30_000, at); // timeOut (irrelevant: the session is closed at once)
  at += sessionId.copy(connect, at);
  at = connect.writeInt32BE(sessionPassword.length, at);
  at += sessionPassword.copy(connect, at);
  connect.writeUInt8(0, at); // readOnly = false
  const close = Buffer.alloc(8);
  close.writeInt32BE(1, 0); // xid
  close.writeInt32BE(CLOSE_SESSION, 4);
  const frame = (body: Buffer) => Buffer.concat([lengthOf(body), body]);
  return Buffer.concat([frame(connect), frame(close)]);
}

function lengthOf(body: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length);
  return length;
}

/** Splits length-prefixed frames off `buffer`; returns the frames and what is left. */
function frames(buffer: Buffer): { complete: Buffer[]; rest: Buffer } {
  const complete: Buffer[] = [];
  let at = 0;
  while (buffer.length - at >= 4) {
    const length = buffer.readInt32BE(at);
    if (buffer.length - at - 4 < length) break;
    complete.push(buffer.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return { complete, rest: buffer.subarray(at) };
}

/**
 * How long one attempt may wait for the server's answers. Now and then the
 * server answers neither our attach nor our close, nor drops the connection,
 * while the original client's re-attach races ours (1 in 300 here, in
 * containers); the close may have landed all the same, and the next attempt
 * finds out.
 */
const ATTEMPT_MS = 1_000;

async function expireVia(host: string, port: number, credentials: SessionCredentials): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host, port });
    let pending: Buffer = Buffer.alloc(0);
    let answers = 0;
    let sent = false;
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    timer = setTimeout(
      () => fail(new Error(`${host}:${port} ${sent ? 'gave no answer after our request' : 'did not accept'} within ${scaled(ATTEMPT_MS)} ms (${answers} answers)`)),
      scaled(ATTEMPT_MS),
    );
    socket.on('connect', () => {
      sent = true;
      socket.write(attachAndClose(credentials));
    });
    socket.on('error', (error) =>
      fail(sent ? new Error(`${host}:${port} dropped the connection after our request (${answers} answers): ${error.message}`) : error),
    );
    // Once our request is out, the server may have acted on it even if we never
    // hear back (the original client can push us off first): say so.
    socket.on('close', () =>
      reject(
        new Error(
          sent
            ? `${host}:${port} dropped the connection after our request (${answers} answers), before confirming the close`
            : `${host}:${port} closed the connection before our request`,
        ),
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      const { complete, rest } = frames(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const frame of complete) {
        answers += 1;
        if (answers === 1 && frame.readInt32BE(4) === 0) {
          return fail(new Error(`session 0x${credentials.sessionId.toString('hex')} had already expired`));
        }
        if (answers === 2) {
          const error = frame.readInt32BE(12); // ReplyHeader: xid, zxid, err
          if (error !== 0) return fail(new Error(`closeSession failed with ZooKeeper error ${error}`));
          socket.destroy();
          return resolve();
        }
      }
    });
  }).finally(() => clearTimeout(timer));
}

/**
 * Expires the session of `session` (a node-zookeeper-client, or its id and
 * password) on the ensemble at `connectString` (servers tried in order).
 * Resolves once a server has closed the session. Use addresses that reach a
 * server directly, not through a proxy you have cut. Rejects at once if the
 * session had already expired, and within `timeoutMs` (base, scaled; default
 * 10 s) if no server closes it.
 *
 * The original client may still win a race now and then (the server drops
 * our connection when it comes back before our close is read); we then try
 * again, and a retry that finds the session gone means our close did land.
 */
export async function expireSession(
  connectString: string,
  session: SessionCredentials | SessionHolder,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const credentials =
    'getSessionId' in session
      ? { sessionId: session.getSessionId(), sessionPassword: session.getSessionPassword() }
      : session;
  const id = `0x${credentials.sessionId.toString('hex')}`;
  const addresses = connectString.replace(/\/.*$/, '').split(',');
  let stop = false;
  const attempt = async () => {
    const errors: string[] = [];
    let maybeClosed = false; // an attempt's close reached a server, unconfirmed
    for (let tries = 0; !stop; tries++) {
      const address = addresses[tries % addresses.length]!;
      const at = address.lastIndexOf(':');
      try {
        return await expireVia(address.slice(0, at), Number(address.slice(at + 1)), credentials);
      } catch (error) {
        const message = (error as Error).message;
        if (/already expired/.test(message)) {
          if (!maybeClosed) throw error;
          return; // an earlier attempt closed it after all
        }
        if (/after our request/.test(message)) maybeClosed = true;
        errors.push(`${address}: ${message}`);
        if (errors.length >= 50) break;
      }
    }
    throw new Error(`no server closed session ${id}: ${errors.slice(-3).join('; ')}`);
  };
  try {
    await withTimeout(attempt(), options.timeoutMs ?? 10_000, `a server to close session ${id}`);
  } finally {
    stop = true;
  }
  if ('getSessionId' in session) redial(session);
}

/**
 * Our attach kicks the original client off, and it re-attaches within a
 * millisecond. Now and then (1 in 65 and 1 in 300 in two loops of 300 here,
 * containers) its re-attach lands between our attach and our close: the
 * server then closes the session but keeps that new connection open, and
 * drops every request on it unanswered (`cons` lists it with its sid, pings
 * received, nothing sent). The Java client leaves such a connection after its
 * read timeout (2/3 of the session timeout) and hears `expired` on the next;
 * node-zookeeper-client has no read timeout and would sit on it for good. So
 * an in-process library client is made to redial now, as the Java client
 * would later, and hears `expired` at once. (elect's own sessions need no
 * help: their unanswered heartbeat makes them drop the connection.)
 */
function redial(holder: SessionHolder): void {
  const manager = (holder as { connectionManager?: { socket?: { destroy(): void } } }).connectionManager;
  manager?.socket?.destroy();
}

/*
 * Expiring the ZooKeeper session of another process (an `elect` under test, a
 * soak candidate), knowing only its id: that process logs the id, and the
 * server derives the password from the id alone —
 *
 *   ZooKeeperServer.generatePasswd(id) = 16 bytes of new java.util.Random(id ^ 0xB3415C00)
 *
 * so a test can compute it and end the session for real, on the server,
 * while the process itself notices nothing until the server tells it.
 */
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
