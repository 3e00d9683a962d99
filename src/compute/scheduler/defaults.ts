/**
 * What the scheduler uses while os-services / os-aggregates and os-server-groups are not wired
 * in: every configured host enabled, up as far as its engine goes, in Nova's default zone; no
 * server groups (a `group` hint names a group that does not exist: Nova's 400).
 */
import { badRequest } from '../../errors';
import type { RequestContext } from '../../http/context';
import { AVAILABILITY_ZONE } from '../services/hosts';
import type { GroupSpec, HostSettings, HostSettingsPort, ServerGroupsPort } from './types';

export class DefaultHostSettings implements HostSettingsPort {
  /** `hosts`: the configured compute host names. */
  constructor(private readonly hosts: () => string[]) {}

  async all(): Promise<HostSettings[]> {
    return this.hosts().map((host) => ({ host, disabled: false, disabledReason: null, forcedDown: false, zone: AVAILABILITY_ZONE }));
  }

  async zoneExists(zone: string): Promise<boolean> {
    return zone === AVAILABILITY_ZONE;
  }
}

export class NoServerGroups implements ServerGroupsPort {
  async forBoot(_ctx: RequestContext, groupId: string | undefined): Promise<GroupSpec | undefined> {
    if (groupId === undefined) return undefined;
    throw badRequest(`Instance group ${groupId} could not be found.`);
  }

  async addMembers(): Promise<void> {
    // No groups: nothing to record.
  }

  async groupOf(): Promise<GroupSpec | undefined> {
    return undefined;
  }

  async groupsOf(): Promise<string[]> {
    return [];
  }

  async removeMember(): Promise<void> {
    // No groups: nothing to drop.
  }
}
