/**
 * Protected create, for real: the server creates our node but the reply
 * never reaches us (a proxy swallows it), then the connection drops. The
 * campaign must find its node again by the uuid prefix — not create a second
 * one, not leave an orphan — and lead on it.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { scaled, waitUntil, type Cluster } from '@elect/test';
import { ReplyDropper } from './support/reply-dropper.js';
import { RecordingLogger, children, connect, rawClient, startServer, uniqueName } from './support/zk.js';

jest.setTimeout(scaled(120_000));

let cluster: Cluster;
let dropper: ReplyDropper;
beforeAll(async () => {
  cluster = await startServer(1);
  const member = cluster.members[0]!;
  dropper = await ReplyDropper.start({ host: member.host, port: member.clientPort });
});
afterAll(async () => {
  await dropper?.close();
  await cluster?.close();
});

describe('protected create', () => {
  test('a create whose reply was lost is found again by its uuid, never duplicated', async () => {
    const logger = new RecordingLogger();
    const connection = await connect(dropper.address, { logger });
    const name = uniqueName('protected');
    const path = `/elect/${name}`;
    const election = connection.election(name);
    const observer = await rawClient(cluster.connectString);
    try {
      // Make the latch path first, so the swallowed create is the candidate's own.
      const warmup = await election.campaign({ id: 'warmup' });
      await warmup.resign();
      const session = connection.sessionId;

      dropper.armed = true;
      const campaign = election.campaign({ id: 'protected' });
      // The server made the node; the reply is gone.
      const made = await waitUntil(async () => (await children(observer, path))[0], { timeoutMs: 10_000, what: 'the node on the server' });
      expect(dropper.swallowed).toBe(true);
      dropper.reset();

      const leadership = await campaign;
      expect(leadership.key).toBe(`${path}/${made}`);
      expect(await children(observer, path)).toEqual([made]);
      expect(connection.sessionId).toBe(session);
      expect(logger.count('protected-create-found')).toBe(1);
      await leadership.resign();
      expect(await children(observer, path)).toEqual([]);
    } finally {
      observer.close();
      await election.close();
      await connection.close();
    }
  });
});
