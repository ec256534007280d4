import { afterEach, describe, expect, it } from '@jest/globals';
import type { CampaignOptions } from '@elect/core';
import { withCampaign } from '@elect/core/backend';
import { MemoryServer } from '@elect/core/testing';

const servers: MemoryServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('withCampaign', () => {
  it('runs each campaign through the wrapper; everything else is the election\'s own', async () => {
    const server = new MemoryServer();
    servers.push(server);
    const election = server.connect().election('jobs');
    const seen: CampaignOptions[] = [];
    const wrapped = withCampaign(election, async (options, campaign) => {
      seen.push(options);
      return await campaign({ ...options, value: `wrapped ${options.id}` });
    });
    expect(wrapped.name).toBe('jobs');
    const leadership = await wrapped.campaign({ id: 'a' });
    expect(seen).toEqual([{ id: 'a' }]);
    // The election's own reads, through the wrapper, see what the wrapped campaign did.
    expect(await wrapped.leader()).toMatchObject({ id: 'a', value: 'wrapped a', token: leadership.token });
    expect((await wrapped.candidates()).map((c) => c.id)).toEqual(['a']);
    await leadership.resign();
    expect(await wrapped.leader()).toBeUndefined();
    await wrapped.close();
  });
});
