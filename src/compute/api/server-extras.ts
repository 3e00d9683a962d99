/**
 * Server sub-resources of issue 15 that need no action table:
 *
 *   GET    /servers/{id}/diagnostics          the engine's live figures (admin): the 2.48 standard
 *                                             shape, the libvirt-like dict before (server_diagnostics.py)
 *   GET    /servers/{id}/os-server-password   {"password": ""}: no driver here sets one (server_password.py)
 *   DELETE /servers/{id}/os-server-password   204, nothing to clear
 */
import { Router } from 'express';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { atLeast } from '../microversion';
import type { ComputeServices } from '../services';
import { diagnosticsView, legacyDiagnosticsView } from '../views/server-diagnostics';

export interface ServerExtrasRouterDeps {
  compute: Pick<ComputeServices, 'queries' | 'diagnostics'>;
}

export function serverExtrasRouter({ compute }: ServerExtrasRouterDeps): Router {
  const r = Router();

  r.get('/servers/:id/diagnostics', handle(async (req, res) => {
    const { server, diagnostics } = await compute.diagnostics.get(ctxOf(req), req.params.id);
    res.json(atLeast(req, '2.48') ? diagnosticsView(server, diagnostics) : legacyDiagnosticsView(diagnostics));
  }));
  r.all('/servers/:id/diagnostics', methodNotAllowed());

  // NOTE(openstack): the password is what a guest posts to the metadata service, encrypted with
  // its key pair; containers here have neither, so there is never one, as Nova with such a driver.
  r.get('/servers/:id/os-server-password', handle(async (req, res) => {
    await compute.queries.get(ctxOf(req), req.params.id);
    res.json({ password: '' });
  }));
  r.delete('/servers/:id/os-server-password', handle(async (req, res) => {
    await compute.queries.get(ctxOf(req), req.params.id);
    res.status(204).end();
  }));
  r.all('/servers/:id/os-server-password', methodNotAllowed());
  return r;
}
