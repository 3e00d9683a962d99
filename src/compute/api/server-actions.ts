/**
 * POST /servers/{id}/action (nova/api/openstack/compute/servers.py and the per-action
 * controllers): the body's single key names the action; ACTIONS maps it to its schema and its
 * handler, one line of service call each. An unknown server is a 404 before the body is read.
 *
 *   os-start  os-stop  reboot  pause  unpause  suspend  resume  rebuild  os-getConsoleOutput
 *   createImage  createBackup  restore  addSecurityGroup  removeSecurityGroup  os-resetState
 *   lock  unlock  forceDelete
 *   migrate  confirmResize  revertResize  evacuate  os-migrateLive         (move-actions.ts)
 *   shelve  shelveOffload  unshelve                                         (shelve-actions.ts)
 *   resize                                                                 (resize-actions.ts)
 *   os-getSerialConsole  os-getVNCConsole  os-getSPICEConsole  os-getRDPConsole  (remote-consoles.ts)
 */
import { Request, Response, Router } from 'express';
import { badRequest, notFound } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { validate } from '../../http/validation';
import type { ComputeServices } from '../services';
import type { RebuildRequest } from '../services/server-actions';
import { atLeast, mvOf } from '../microversion';
import { RULES } from '../state-rules';
import { detailView } from '../views/servers';
import * as schemas from '../schemas/servers';
import { canonicalV6, checkBase64, diskConfigParam, serverGroupsShown, serverViewOptions } from './server-requests';
import { moveActions } from './move-actions';
import { shelveActions } from './shelve-actions';
import { resizeActions } from './resize-actions';
import { consoleActions } from './remote-consoles';
import type { ActionEntry } from './action-table';
import type { NovaSecurityGroups } from '../../network/nova-security-groups';
import type { NovaFloatingIps } from '../../network/nova-floating-ips';

export interface ServerActionsRouterDeps {
  compute: Pick<ComputeServices, 'queries' | 'actions' | 'snapshots' | 'updates' | 'deleter' | 'hosts' | 'migrations' | 'shelve' | 'resize' | 'consoles'>;
  /** Base of the absolute links (and of createImage's Location below 2.45). */
  publicUrl: string;
  /** issue 17 (net-secgroups): membership through the server's ports, when it has ports. */
  securityGroups?: Pick<NovaSecurityGroups, 'changeServer'>;
  /** issue 17 (net-router): addFloatingIp/removeFloatingIp (< 2.44) through the network service's floating IPs. */
  floatingIps?: Pick<NovaFloatingIps, 'add' | 'remove'>;
}

const floatingIpAction = (withFixed: boolean) => ({
  type: 'object',
  properties: { address: { type: 'string', format: 'ipv4' }, ...(withFixed && { fixed_address: { type: 'string', format: 'ipv4' } }) },
  required: ['address'],
  additionalProperties: false,
});
const ADD_FLOATING_IP = floatingIpAction(true);
const REMOVE_FLOATING_IP = floatingIpAction(false);

export function serverActionsRouter({ compute, publicUrl, securityGroups, floatingIps }: ServerActionsRouterDeps): Router {
  /** Through the server's ports; a server without ports keeps the groups its record names. */
  const changeSecurityGroup = async (req: Request, id: string, name: string, op: 'add' | 'remove') => {
    const ctx = ctxOf(req);
    await compute.queries.get(ctx, id);
    if ((await securityGroups?.changeServer(ctx, id, name, op)) !== 'done') await compute.updates.changeSecurityGroup(ctx, id, name, op);
  };
  const r = Router();
  const views = (req: Request) => serverViewOptions(req, publicUrl, compute);

  const accepted = (res: Response) => res.status(202).end();
  /** POST /servers/{id}/action dispatches on the body's single key. */
  const ACTIONS: Record<string, ActionEntry> = {
    ...moveActions(compute),
    ...shelveActions(compute),
    ...resizeActions(compute),
    ...consoleActions(compute),
    'os-start': { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.actions.start(ctxOf(req), id); accepted(res); } },
    'os-stop': { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.actions.stop(ctxOf(req), id); accepted(res); } },
    reboot: {
      schema: () => schemas.reboot,
      run: async (req, res, id, b) => { await compute.actions.reboot(ctxOf(req), id, String(b.type).toUpperCase() as 'SOFT' | 'HARD'); accepted(res); },
    },
    pause: { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.actions.pause(ctxOf(req), id); accepted(res); } },
    unpause: { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.actions.unpause(ctxOf(req), id); accepted(res); } },
    suspend: { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.actions.suspend(ctxOf(req), id); accepted(res); } },
    resume: { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.actions.resume(ctxOf(req), id); accepted(res); } },
    rebuild: {
      schema: (req) => schemas.rebuildSchema(mvOf(req)),
      run: async (req, res, id, b) => {
        checkBase64('rebuild/user_data', b.user_data);
        (b.personality as { contents?: string }[] | undefined)?.forEach((p, i) => checkBase64(`rebuild/personality/${i}/contents`, p.contents));
        const rebuild: RebuildRequest = {
          imageRef: b.imageRef, name: b.name, metadata: b.metadata, adminPass: b.adminPass, accessIPv4: b.accessIPv4,
          accessIPv6: canonicalV6(b.accessIPv6), description: b.description, keyName: b.key_name, userData: b.user_data, hostname: b.hostname,
          autoDiskConfig: diskConfigParam(b['OS-DCF:diskConfig']),
        };
        const { server, adminPass } = await compute.actions.rebuild(ctxOf(req), id, rebuild);
        const view = detailView(server, views(req), 'rebuild', await serverGroupsShown(req, compute, server.id));
        view.adminPass = adminPass;
        if (atLeast(req, '2.57')) view.user_data = server.user_data;
        res.status(202).json({ server: view });
      },
    },
    'os-getConsoleOutput': {
      schema: () => schemas.consoleOutput,
      run: async (req, res, id, b) => {
        const raw = b?.length;
        const length = raw === undefined || raw === null ? null : Number(raw);
        res.json({ output: await compute.actions.consoleOutput(ctxOf(req), id, length === -1 ? null : length) });
      },
    },
    createImage: {
      schema: () => schemas.createImage,
      run: async (req, res, id, b) => {
        const image = await compute.snapshots.createImage(ctxOf(req), id, { name: b.name, metadata: b.metadata });
        if (atLeast(req, '2.45')) {
          res.status(202).json({ image_id: image.id });
          return;
        }
        // NOTE(openstack): Nova answers Location = <image endpoint>/images/<id>; clients (tempest's
        // parse_image_id, the SDK) only read the last path segment. We point at the Glance v2 URL.
        res.setHeader('Location', `${publicUrl}/image/v2/images/${image.id}`);
        accepted(res);
      },
    },
    createBackup: {
      schema: () => schemas.createBackup,
      run: async (req, res, id, b) => {
        const image = await compute.snapshots.createBackup(ctxOf(req), id, { name: b.name, backupType: b.backup_type, rotation: Number(b.rotation), metadata: b.metadata });
        if (atLeast(req, '2.45')) {
          res.status(202).json({ image_id: image.id });
          return;
        }
        res.setHeader('Location', `${publicUrl}/image/v2/images/${image.id}`);
        accepted(res);
      },
    },
    restore: { schema: () => schemas.noBody, run: async (req, _res, id) => { await compute.actions.restore(ctxOf(req), id); } },
    addSecurityGroup: {
      schema: () => schemas.securityGroupAction,
      run: async (req, res, id, b) => { await changeSecurityGroup(req, id, b.name, 'add'); accepted(res); },
    },
    removeSecurityGroup: {
      schema: () => schemas.securityGroupAction,
      run: async (req, res, id, b) => { await changeSecurityGroup(req, id, b.name, 'remove'); accepted(res); },
    },
    ...(floatingIps && {
      addFloatingIp: {
        schema: () => ADD_FLOATING_IP,
        run: async (req, res, id, b) => {
          if (atLeast(req, '2.44')) throw notFound('The resource could not be found.');
          await floatingIps.add(ctxOf(req), id, b.address, b.fixed_address);
          accepted(res);
        },
      },
      removeFloatingIp: {
        schema: () => REMOVE_FLOATING_IP,
        run: async (req, res, id, b) => {
          if (atLeast(req, '2.44')) throw notFound('The resource could not be found.');
          await floatingIps.remove(ctxOf(req), id, b.address);
          accepted(res);
        },
      },
    } satisfies Record<string, ActionEntry>),
    'os-resetState': {
      schema: () => schemas.resetState,
      run: async (req, res, id, b) => { await compute.actions.resetState(ctxOf(req), id, b.state); accepted(res); },
    },
    lock: {
      schema: (req) => (atLeast(req, '2.73') ? schemas.lock273 : schemas.noBody),
      run: async (req, res, id, b) => {
        await compute.actions.lock(ctxOf(req), id, atLeast(req, '2.73') ? b?.locked_reason : undefined);
        accepted(res);
      },
    },
    unlock: { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.actions.unlock(ctxOf(req), id); accepted(res); } },
    forceDelete: {
      schema: () => schemas.noBody,
      run: async (req, res, id) => { await compute.deleter.delete(ctxOf(req), id, RULES.forceDelete); accepted(res); },
    },
  };

  r.post('/servers/:id/action', handle(async (req, res) => {
    const ctx = ctxOf(req);
    const id = req.params.id;
    // NOTE(openstack): tempest expects 404 for an unknown server before the body is looked at.
    const server = await compute.queries.get(ctx, id);
    const body = req.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Malformed request body: the action body must be a JSON object.');
    const keys = Object.keys(body);
    if (keys.length !== 1) throw badRequest(keys.length ? 'Malformed request body: too many body keys' : 'Malformed request body: no action given');
    // Own keys only: "constructor" or "__proto__" name no action (Object.prototype is not the table).
    const action = Object.prototype.hasOwnProperty.call(ACTIONS, keys[0]) ? ACTIONS[keys[0]] : undefined;
    if (!action) throw badRequest(`There is no such action: ${keys[0]}`);
    const args = validate<{ [k: string]: unknown }>(bodySchema(keys[0], action.schema(req)), body)[keys[0]];
    await action.run(req, res, id, args, server);
  }));
  r.all('/servers/:id/action', methodNotAllowed());

  return r;
}

/**
 * The body schema of an action: `{key: schema}`, one object per (action, schema) so that it is
 * compiled once. A fresh object per request made ajv compile it anew every time (milliseconds of
 * CPU on every action, and ajv keeps every schema it compiled).
 */
const bodySchemas = new WeakMap<object, Map<string, object>>();
function bodySchema(key: string, schema: object): object {
  let byKey = bodySchemas.get(schema);
  if (!byKey) bodySchemas.set(schema, (byKey = new Map()));
  let body = byKey.get(key);
  if (!body) byKey.set(key, (body = { type: 'object', properties: { [key]: schema } }));
  return body;
}
