/**
 * Remote consoles (nova/api/openstack/compute/remote_consoles.py, issue 15):
 *
 *   POST /servers/{id}/remote-consoles   {"remote_console": {"protocol", "type"}} → 200 {"remote_console": {…, "url"}}  (2.6+)
 *   POST /servers/{id}/action            os-getSerialConsole → 200 {"console": {"type", "url"}}  (2.1–2.5; rows of the
 *                                        action table, with os-getVNCConsole, os-getSPICEConsole and the removed os-getRDPConsole)
 *
 * Only serial consoles are served (the URL is a websocket on this port: src/console/serial-proxy.ts).
 */
import { Request, Router } from 'express';
import { badRequest, msg, notFound } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { validate } from '../../http/validation';
import type { ComputeServices } from '../services';
import { atLeast, atMost, mvOf } from '../microversion';
import { remoteConsoleSchema, serialConsoleAction, spiceConsoleAction, vncConsoleAction } from '../schemas/remote-consoles';
import type { ActionEntry } from './action-table';

export interface RemoteConsolesRouterDeps {
  compute: Pick<ComputeServices, 'consoles'>;
}

export function remoteConsolesRouter({ compute }: RemoteConsolesRouterDeps): Router {
  const r = Router();
  r.post('/servers/:id/remote-consoles', handle(async (req, res) => {
    // Added at 2.6: below it Nova has no such method (VersionNotFoundForAPIMethod → 404).
    if (!atLeast(req, '2.6')) throw notFound(msg.resourceNotFound());
    const { remote_console: rc } = validate<{ remote_console: { protocol: string; type: string } }>(remoteConsoleSchema(mvOf(req)), req.body);
    const url = await compute.consoles.getConsole(ctxOf(req), req.params.id, rc.protocol, rc.type);
    res.status(200).json({ remote_console: { protocol: rc.protocol, type: rc.type, url } });
  }));
  r.all('/servers/:id/remote-consoles', methodNotAllowed());
  return r;
}

/** The console actions, removed at 2.6 (replaced by remote-consoles): a 404 from 2.6 on, before the body is looked at. */
export function consoleActions(compute: Pick<ComputeServices, 'consoles'>): Record<string, ActionEntry> {
  const upTo25 = (schema: object) => (req: Request) => (atMost(req, '2.5') ? schema : {});
  const removedAt26 = (req: Request) => {
    if (!atMost(req, '2.5')) throw notFound(msg.resourceNotFound());
  };
  const row = (protocol: string, schema: object): ActionEntry => ({
    schema: upTo25(schema),
    run: async (req, res, id, b) => {
      removedAt26(req);
      const url = await compute.consoles.getConsole(ctxOf(req), id, protocol, b.type);
      res.status(200).json({ console: { type: b.type, url } });
    },
  });
  return {
    'os-getSerialConsole': row('serial', serialConsoleAction),
    'os-getVNCConsole': row('vnc', vncConsoleAction),
    'os-getSPICEConsole': row('spice', spiceConsoleAction),
    // NOTE(openstack): removed with the Hyper-V driver (Nova 29.0.0): a bare 400 for any body.
    'os-getRDPConsole': {
      schema: () => ({}),
      run: async (req) => {
        removedAt26(req);
        throw badRequest('The server could not comply with the request since it is either malformed or otherwise incorrect.');
      },
    },
  };
}
