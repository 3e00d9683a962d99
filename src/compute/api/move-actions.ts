/**
 * The move actions of POST /servers/{id}/action (nova/api/openstack/compute/migrate_server.py,
 * evacuate.py, servers.py _confirm_resize/_revert_resize), rows of the action table in
 * server-actions.ts: each validates per microversion, makes one service call, answers.
 *
 *   migrate (202)  confirmResize (204)  revertResize (202)  evacuate (200)  os-migrateLive (400)
 */
import type { Request, Response } from 'express';
import { ctxOf } from '../../http/auth';
import type { ComputeServices } from '../services';
import type { EvacuateRequest } from '../services/migrations';
import { atLeast, mvOf } from '../microversion';
import { toBool } from '../schemas/parameter-types';
import { anyValue, evacuateSchema, migrate256, migrateLiveSchema } from '../schemas/migrations';
import type { ActionEntry } from './action-table';

export function moveActions(compute: Pick<ComputeServices, 'migrations'>): Record<string, ActionEntry> {
  const accepted = (res: Response) => res.status(202).end();
  /** 2.29–2.67 carry `force` (evacuate); 2.30–2.67 for live migration. */
  const forceOf = (req: Request, from: string, b: { force?: unknown }) => (atLeast(req, from) && !atLeast(req, '2.68') && b.force !== undefined ? toBool(b.force) : undefined);
  return {
    migrate: {
      schema: (req) => (atLeast(req, '2.56') ? migrate256 : anyValue),
      run: async (req, res, id, b) => {
        const host = atLeast(req, '2.56') ? (b?.host ?? undefined) : undefined;
        await compute.migrations.migrate(ctxOf(req), id, host);
        accepted(res);
      },
    },
    // NOTE(openstack): confirmResize answers 204, revertResize 202 (servers.py keeps both for compatibility).
    confirmResize: { schema: () => anyValue, run: async (req, res, id) => { await compute.migrations.confirmResize(ctxOf(req), id); res.status(204).end(); } },
    revertResize: { schema: () => anyValue, run: async (req, res, id) => { await compute.migrations.revertResize(ctxOf(req), id); accepted(res); } },
    evacuate: {
      schema: (req) => evacuateSchema(mvOf(req)),
      run: async (req, res, id, b) => {
        const ask: EvacuateRequest = { host: b.host, adminPass: b.adminPass, force: forceOf(req, '2.29', b) };
        if (!atLeast(req, '2.14')) ask.onSharedStorage = toBool(b.onSharedStorage);
        const password = await compute.migrations.evacuate(ctxOf(req), id, ask);
        // NOTE(openstack): 200, not 202 (evacuate.py keeps it for compatibility); the password only below 2.14.
        if (atLeast(req, '2.14')) res.status(200).end();
        else res.status(200).json({ adminPass: password });
      },
    },
    'os-migrateLive': {
      schema: (req) => migrateLiveSchema(mvOf(req)),
      run: async (req, _res, id, b) => {
        await compute.migrations.liveMigrate(ctxOf(req), id, { host: b.host ?? null, force: forceOf(req, '2.30', b) });
      },
    },
  };
}
