/**
 * Wire shapes of server groups (nova/api/openstack/compute/server_groups.py
 * _format_server_group): `policies` (a list of one) and an always-empty `metadata` until 2.64,
 * then `policy` and `rules`; `project_id` and `user_id` from 2.13. `members` lists the member
 * servers that are not deleted.
 */
import type { ServerGroupRecord } from '../../db/server-group-repo';
import type { Mv } from './common';

function groupView(mv: Mv, g: ServerGroupRecord): Record<string, unknown> {
  const v: Record<string, unknown> = { id: g.uuid, name: g.name };
  if (mv('2.64')) {
    v.policy = g.policy;
    v.rules = g.rules;
  } else {
    v.policies = [g.policy];
    v.metadata = {};
  }
  v.members = g.members;
  if (mv('2.13')) {
    v.project_id = g.project_id;
    v.user_id = g.user_id;
  }
  return v;
}

/** GET /os-server-groups/{id} and the answer to POST. */
export function serverGroupView(mv: Mv, g: ServerGroupRecord) {
  return { server_group: groupView(mv, g) };
}

/** GET /os-server-groups. */
export function serverGroupListView(mv: Mv, groups: ServerGroupRecord[]) {
  return { server_groups: groups.map((g) => groupView(mv, g)) };
}
