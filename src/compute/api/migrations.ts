/**
 * Migration reads (nova/api/openstack/compute/migrations.py, server_migrations.py), admin only:
 *
 *   GET    /os-migrations                                 every move (2.59 paging, 2.66/2.80 filters)
 *   GET    /servers/{id}/migrations[/{migration_id}]      live migrations in progress (2.23): none here
 *   DELETE /servers/{id}/migrations/{migration_id}        abort a live migration (2.24)
 *   POST   /servers/{id}/migrations/{migration_id}/action force_complete (2.22)
 *
 * Cold migrations and evacuations are listed by os-migrations only: the server's own migrations
 * resource is, in Nova, for live migrations in flight, which the Docker driver never has.
 */
import { Request, Router } from 'express';
import { badRequest, msg, notFound } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { limitParam, queryParam } from '../../http/query';
import { boolFromString, validate } from '../../http/validation';
import type { ComputeServices } from '../services';
import type { MigrationFilter } from '../services/migrations';
import { MAX_LIMIT } from '../max-limit';
import { atLeast, mvOf } from '../microversion';
import { forceComplete, migrationsQueryKeys } from '../schemas/migrations';
import { nextPageLinks } from '../views/common';
import { migrationsListView } from '../views/migrations';
import { isoParam } from './server-requests';

export interface MigrationsRouterDeps {
  compute: Pick<ComputeServices, 'migrations'>;
  /** Base of the absolute paging links. */
  publicUrl: string;
}

/** Routes Nova added at `version`: a 404 below it (its VersionNotFoundForAPIMethod). */
const since = (req: Request, version: string) => {
  if (!atLeast(req, version)) throw notFound(msg.resourceNotFound());
};

/** The os-migrations query as the repository filters it, checked as Nova's query schemas check it. */
function migrationsQuery(req: Request): { filter: MigrationFilter; limit?: number; marker?: string } {
  const mv = mvOf(req);
  if (mv('2.59')) {
    const known = migrationsQueryKeys(mv);
    for (const k of Object.keys(req.query)) if (!known.has(k)) throw badRequest(`Invalid input for query parameters ${k}. Additional properties are not allowed ('${k}' was unexpected)`);
  }
  const q = (k: string) => queryParam(req, k);
  const filter: MigrationFilter = {};
  if (q('status') !== undefined) filter.status = [q('status')!];
  if (q('host') !== undefined) filter.host = q('host');
  if (q('source_compute') !== undefined) filter.sourceCompute = q('source_compute');
  if (q('migration_type') !== undefined) filter.migrationType = q('migration_type');
  if (q('instance_uuid') !== undefined) filter.instanceUuid = q('instance_uuid');
  const hidden = q('hidden');
  if (hidden !== undefined) filter.hidden = boolFromString(hidden.trim());
  if (!mv('2.59')) return { filter };
  // Before 2.59 Nova drops changes-since and changes-before rather than filter on them.
  filter.changesSince = isoParam('changes-since', q('changes-since'));
  if (mv('2.66')) {
    filter.changesBefore = isoParam('changes-before', q('changes-before'));
    if (filter.changesSince && filter.changesBefore && filter.changesBefore < filter.changesSince) {
      throw badRequest('The value of changes-since must be less than or equal to changes-before.');
    }
  }
  if (mv('2.80')) {
    filter.userId = q('user_id');
    filter.projectId = q('project_id');
  }
  return { filter, limit: limitParam(req, MAX_LIMIT) ?? MAX_LIMIT, marker: q('marker') };
}

export function migrationsRouter({ compute, publicUrl }: MigrationsRouterDeps): Router {
  const r = Router();

  r.get('/os-migrations', handle(async (req, res) => {
    const { filter, limit, marker } = migrationsQuery(req);
    const sorted = atLeast(req, '2.59');
    const items = await compute.migrations.list(ctxOf(req), filter, { sorted, limit, marker });
    const links = sorted ? nextPageLinks(publicUrl, 'os-migrations', req.query, items.length, items[items.length - 1]?.uuid) : [];
    res.json(migrationsListView(items, mvOf(req), links));
  }));
  r.all('/os-migrations', methodNotAllowed());

  r.get('/servers/:id/migrations', handle(async (req, res) => {
    since(req, '2.23');
    await compute.migrations.liveMigrationsInProgress(ctxOf(req), req.params.id);
    res.json({ migrations: [] });
  }));
  r.all('/servers/:id/migrations', methodNotAllowed());

  r.get('/servers/:id/migrations/:migrationId', handle(async (req) => {
    since(req, '2.23');
    await compute.migrations.liveMigrationInProgress(ctxOf(req), req.params.id, req.params.migrationId);
  }));
  r.delete('/servers/:id/migrations/:migrationId', handle(async (req) => {
    since(req, '2.24');
    await compute.migrations.abortLiveMigration(ctxOf(req), req.params.id, req.params.migrationId);
  }));
  r.all('/servers/:id/migrations/:migrationId', methodNotAllowed());

  r.post('/servers/:id/migrations/:migrationId/action', handle(async (req) => {
    since(req, '2.22');
    validate(forceComplete, req.body);
    await compute.migrations.forceCompleteLiveMigration(ctxOf(req), req.params.id, req.params.migrationId);
  }));
  r.all('/servers/:id/migrations/:migrationId/action', methodNotAllowed());

  return r;
}
