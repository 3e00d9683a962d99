/**
 * Security groups and their rules (issue 17): Neutron's rules over SecurityGroupRepository.
 *
 * - Each project has its `default` group, made with Neutron's four default rules the first time the
 *   project asks for groups or makes one (SecurityGroupRepository.ensureDefault); only an admin may
 *   delete it (SecurityGroupCannotRemoveDefault), nobody renames it.
 * - A member sees and changes its project's groups; an admin every project's. Another project's
 *   group is a 404, as Neutron hides what a caller may not see.
 * - A group a port uses cannot go (SecurityGroupInUse); a rule equal to one the group has is a 409
 *   naming it (SecurityGroupRuleExists); a remote group must exist and be visible.
 * - Quotas: security_group 10 and security_group_rule 100 per project (Neutron's defaults), counted
 *   in the create's transaction. NOTE: the network service's quota table (net-core) replaces these
 *   figures when it is in; until then they are settings of this service.
 * - Every change that alters what a group admits is announced (`onChange`) with the groups
 *   concerned, so enforcement re-applies the ports that use them.
 */
import crypto from 'node:crypto';
import type { RequestContext } from '../http/context';
import type { SecurityGroupRepository, SecurityGroupRow, SecurityGroupRuleRow } from '../db/security-group-repo';
import { neutron, neutronSg } from './errors';
import { checkAttributes, invalidAttribute, ruleFromBody, ruleKey, stringProblem } from './security-group-rules';

export interface SecurityGroupQuotas {
  securityGroups: number;
  securityGroupRules: number;
}

/** Neutron's defaults (neutron/conf/quota.py): 10 groups and 100 rules per project. */
export const DEFAULT_SECURITY_GROUP_QUOTAS: SecurityGroupQuotas = { securityGroups: 10, securityGroupRules: 100 };

export interface GroupWithRules {
  group: SecurityGroupRow;
  rules: SecurityGroupRuleRow[];
}

/** A rule and whether its group is a project's default (the rule's `belongs_to_default_sg`). */
export interface RuleOfGroup {
  rule: SecurityGroupRuleRow;
  inDefault: boolean;
}

export type SecurityGroupListener = (groupIds: string[]) => void;

const GROUP_CREATE = new Set(['name', 'description', 'stateful', 'project_id', 'tenant_id']);
const GROUP_UPDATE = new Set(['name', 'description', 'stateful']);
const READ_ONLY_GROUP = new Set(['id', 'project_id', 'tenant_id', 'security_group_rules', 'created_at', 'updated_at', 'revision_number']);
const READ_ONLY_RULE = new Set(['id', 'security_group_id', 'remote_group_id', 'direction', 'protocol', 'port_range_min', 'port_range_max',
  'ethertype', 'remote_ip_prefix', 'project_id', 'tenant_id', 'created_at', 'updated_at', 'revision_number']);

/** neutron-lib convert_to_boolean: booleans, 0/1, and 'true'/'false' in any case. */
function toBoolean(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 1) return value === 1;
  if (typeof value === 'string' && ['true', 'false', '1', '0'].includes(value.toLowerCase())) return ['true', '1'].includes(value.toLowerCase());
  throw neutron.invalidInput(`'${String(value)}' cannot be converted to boolean`);
}

function checkName(value: unknown): string {
  const problem = stringProblem(value, 255);
  if (problem) throw invalidAttribute('name', problem);
  if ((value as string).toLowerCase() === 'default') throw neutronSg.defaultAlreadyExists();
  return value as string;
}

function checkDescription(value: unknown): string {
  const problem = stringProblem(value, 255);
  if (problem) throw invalidAttribute('description', problem);
  return value as string;
}

/** PUT refuses what cannot change before anything else (neutron/api/v2/base.py prepare_request_body). */
function checkUpdatable(body: Record<string, unknown>, readOnly: ReadonlySet<string>, allowed: ReadonlySet<string>): void {
  for (const attr of Object.keys(body)) {
    if (readOnly.has(attr)) throw neutronSg.badRequest(`Cannot update read-only attribute ${attr}`);
  }
  checkAttributes(body, allowed, []);
}

export class SecurityGroupService {
  private readonly listeners: SecurityGroupListener[] = [];
  private readonly quotas: SecurityGroupQuotas;

  constructor(private readonly repo: SecurityGroupRepository, quotas?: SecurityGroupQuotas) {
    this.quotas = quotas ?? DEFAULT_SECURITY_GROUP_QUOTAS;
  }

  /** Called with the groups whose rules (or whose members, for remote-group rules) changed. */
  onChange(listener: SecurityGroupListener): () => void {
    this.listeners.push(listener);
    return () => { this.listeners.splice(this.listeners.indexOf(listener), 1); };
  }

  /** Tells the listeners that these groups' memberships changed (a port joined or left). */
  announce(groupIds: string[]): void {
    this.changed(groupIds);
  }

  private changed(groupIds: string[]): void {
    for (const l of this.listeners) l(groupIds);
  }

  private visible(ctx: RequestContext, row: { project_id: string }): boolean {
    return ctx.isAdmin || row.project_id === ctx.projectId;
  }

  /** The group if the caller may see it, else SecurityGroupNotFound. */
  private async visibleGroup(ctx: RequestContext, id: string): Promise<SecurityGroupRow> {
    const g = await this.repo.get(id);
    if (!g || !this.visible(ctx, g)) throw neutron.securityGroupNotFound(id);
    return g;
  }

  async list(ctx: RequestContext): Promise<GroupWithRules[]> {
    await this.repo.ensureDefault(ctx.projectId);
    const groups = await this.repo.list(ctx.isAdmin ? undefined : ctx.projectId);
    return this.withRules(groups);
  }

  async get(ctx: RequestContext, id: string): Promise<GroupWithRules> {
    const group = await this.visibleGroup(ctx, id);
    return { group, rules: await this.repo.rulesOf(group.id) };
  }

  private async withRules(groups: SecurityGroupRow[]): Promise<GroupWithRules[]> {
    const rules = await this.repo.rulesOfGroups(groups.map((g) => g.id));
    return groups.map((group) => ({ group, rules: rules.filter((r) => r.security_group_id === group.id) }));
  }

  /** The project a create is for: the caller's, or (admins only) the one the body names. */
  private ownerOf(ctx: RequestContext, asked: string | undefined, rule: string): string {
    if (asked === undefined || asked === ctx.projectId) return ctx.projectId;
    if (!ctx.isAdmin) throw neutron.policy(rule);
    return asked;
  }

  async create(ctx: RequestContext, body: Record<string, unknown>): Promise<GroupWithRules> {
    checkAttributes(body, GROUP_CREATE, []);
    const name = 'name' in body ? checkName(body.name) : '';
    const description = 'description' in body ? checkDescription(body.description) : '';
    const stateful = 'stateful' in body ? toBoolean(body.stateful) : true;
    const asked = (body.project_id ?? body.tenant_id) as unknown;
    if (asked !== undefined && stringProblem(asked, 255)) throw invalidAttribute('project_id', stringProblem(asked, 255)!);
    const projectId = this.ownerOf(ctx, asked as string | undefined, 'create_security_group');
    await this.repo.ensureDefault(projectId);
    const made = await this.repo.create({ id: crypto.randomUUID(), project_id: projectId, name, description, stateful }, this.quotas.securityGroups);
    if (made === 'overQuota') throw neutron.overQuota('security_group');
    // NOTE(openstack): Neutron gives a new group two egress rules (IPv4 and IPv6, any), as its
    // default group has (securitygroups_db.py create_security_group, stateful groups).
    for (const ethertype of ['IPv4', 'IPv6'] as const) {
      await this.repo.createRule({
        id: crypto.randomUUID(), security_group_id: made.id, project_id: projectId, direction: 'egress', ethertype, protocol: null,
        port_range_min: null, port_range_max: null, remote_ip_prefix: null, remote_group_id: null, description: '',
      }, ruleKey, -1);
    }
    return this.get(ctx, made.id);
  }

  async update(ctx: RequestContext, id: string, body: Record<string, unknown>): Promise<GroupWithRules> {
    checkUpdatable(body, READ_ONLY_GROUP, GROUP_UPDATE);
    const patch: Partial<Pick<SecurityGroupRow, 'name' | 'description' | 'stateful'>> = {};
    if ('name' in body) patch.name = checkName(body.name);
    if ('description' in body) patch.description = checkDescription(body.description);
    if ('stateful' in body) patch.stateful = toBoolean(body.stateful);
    const group = await this.visibleGroup(ctx, id);
    if (group.default_for !== null && patch.name !== undefined && patch.name !== group.name) throw neutronSg.cannotUpdateDefault();
    if (patch.stateful !== undefined && patch.stateful !== group.stateful && (await this.repo.portsOf(id)).length > 0) throw neutronSg.inUse(id);
    const updated = await this.repo.update(id, patch);
    if (!updated) throw neutron.securityGroupNotFound(id);
    if (patch.stateful !== undefined) this.changed([id]);
    return { group: updated, rules: await this.repo.rulesOf(id) };
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    const group = await this.visibleGroup(ctx, id);
    if (group.default_for !== null && !ctx.isAdmin) throw neutronSg.cannotRemoveDefault();
    const outcome = await this.repo.delete(id);
    if (outcome === 'inUse') throw neutronSg.inUse(id);
    if (outcome === 'gone') throw neutron.securityGroupNotFound(id);
    this.changed([id]);
  }

  async listRules(ctx: RequestContext): Promise<RuleOfGroup[]> {
    await this.repo.ensureDefault(ctx.projectId);
    const defaults = await this.repo.defaultGroupIds();
    return (await this.repo.listRules(ctx.isAdmin ? undefined : ctx.projectId)).map((rule) => ({ rule, inDefault: defaults.has(rule.security_group_id) }));
  }

  async getRule(ctx: RequestContext, id: string): Promise<RuleOfGroup> {
    const rule = await this.visibleRule(ctx, id);
    return this.ofGroup(rule);
  }

  private async ofGroup(rule: SecurityGroupRuleRow): Promise<RuleOfGroup> {
    return { rule, inDefault: (await this.repo.get(rule.security_group_id))?.default_for != null };
  }

  private async visibleRule(ctx: RequestContext, id: string): Promise<SecurityGroupRuleRow> {
    const rule = await this.repo.getRule(id);
    if (!rule || !this.visible(ctx, rule)) throw neutronSg.ruleNotFound(id);
    return rule;
  }

  async createRule(ctx: RequestContext, body: Record<string, unknown>): Promise<RuleOfGroup> {
    const attrs = ruleFromBody(body);
    const projectId = this.ownerOf(ctx, attrs.project_id, 'create_security_group_rule');
    if (attrs.remote_group_id !== null) {
      const remote = await this.repo.get(attrs.remote_group_id);
      if (!remote || !(ctx.isAdmin || remote.project_id === projectId)) throw neutron.securityGroupNotFound(attrs.remote_group_id);
    }
    const group = await this.repo.get(attrs.security_group_id);
    if (!group || !this.visible(ctx, group) || (group.project_id !== projectId && !ctx.isAdmin)) throw neutron.securityGroupNotFound(attrs.security_group_id);
    const { project_id: _asked, ...rest } = attrs;
    const made = await this.repo.createRule({ ...rest, id: crypto.randomUUID(), project_id: group.project_id }, ruleKey, this.quotas.securityGroupRules);
    if (made === 'overQuota') throw neutron.overQuota('security_group_rule');
    if (made === 'groupGone') throw neutron.securityGroupNotFound(attrs.security_group_id);
    if ('exists' in made) throw neutronSg.ruleExists(made.exists);
    this.changed([group.id]);
    return { rule: made, inDefault: group.default_for !== null };
  }

  async updateRule(ctx: RequestContext, id: string, body: Record<string, unknown>): Promise<RuleOfGroup> {
    checkUpdatable(body, READ_ONLY_RULE, new Set(['description']));
    const description = 'description' in body ? checkDescription(body.description) : undefined;
    const rule = await this.visibleRule(ctx, id);
    const updated = description === undefined ? rule : await this.repo.updateRule(id, description);
    if (!updated) throw neutronSg.ruleNotFound(id);
    return this.ofGroup(updated);
  }

  async deleteRule(ctx: RequestContext, id: string): Promise<void> {
    const rule = await this.visibleRule(ctx, id);
    if (!(await this.repo.deleteRule(id))) throw neutronSg.ruleNotFound(id);
    this.changed([rule.security_group_id]);
  }
}
