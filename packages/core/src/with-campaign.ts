/**
 * An election with its `campaign` wrapped: what packages built on an
 * election use to act on each campaign (metrics time it; `elect run` forks
 * its command's gate) while everything else stays the election's own.
 */
import type { CampaignOptions, Election, Leadership } from './contract.js';

/** `election`, with `campaign(options)` running `wrap(options, campaign)` instead; the other members are its own. */
export function withCampaign(
  election: Election,
  wrap: (options: CampaignOptions, campaign: (options: CampaignOptions) => Promise<Leadership>) => Promise<Leadership>,
): Election {
  const campaign = election.campaign.bind(election);
  return Object.freeze({
    name: election.name,
    campaign: (options: CampaignOptions) => wrap(options, campaign),
    leader: election.leader.bind(election),
    candidates: election.candidates.bind(election),
    handover: election.handover.bind(election),
    observe: election.observe.bind(election),
    events: election.events.bind(election),
    close: election.close.bind(election),
  });
}
