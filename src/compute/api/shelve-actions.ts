/**
 * The shelve actions of POST /servers/{id}/action (nova/api/openstack/compute/shelve.py), rows
 * of the action table in server-actions.ts: each validates per microversion, makes one service
 * call, answers 202 with no body.
 *
 *   shelve  shelveOffload (admin)  unshelve (2.77 availability_zone, 2.91 host and a null zone)
 */
import type { Response } from 'express';
import { ctxOf } from '../../http/auth';
import type { ComputeServices } from '../services';
import type { UnshelveRequest } from '../services/shelve';
import { atLeast } from '../microversion';
import { name } from '../schemas/parameter-types';
import type { ActionEntry } from './action-table';

/** Nova's schemas: shelve, shelveOffload and unshelve below 2.77 take any value (ignored). */
const anyValue = {};
/** 2.77–2.90: null, or an object with exactly `availability_zone` (not `{}`). */
const unshelve277 = {
  type: ['object', 'null'], properties: { availability_zone: name }, required: ['availability_zone'], additionalProperties: false,
};
/** 2.91: null, or an object with `availability_zone` (a string, or null to unpin) and/or `host`. */
const unshelve291 = {
  type: ['object', 'null'], properties: { availability_zone: { type: ['string', 'null'] }, host: { type: 'string' } }, additionalProperties: false,
};

export function shelveActions(compute: Pick<ComputeServices, 'shelve'>): Record<string, ActionEntry> {
  const accepted = (res: Response) => res.status(202).end();
  return {
    shelve: { schema: () => anyValue, run: async (req, res, id) => { await compute.shelve.shelve(ctxOf(req), id); accepted(res); } },
    shelveOffload: { schema: () => anyValue, run: async (req, res, id) => { await compute.shelve.shelveOffload(ctxOf(req), id); accepted(res); } },
    unshelve: {
      schema: (req) => (atLeast(req, '2.91') ? unshelve291 : atLeast(req, '2.77') ? unshelve277 : anyValue),
      run: async (req, res, id, b) => {
        const ask: UnshelveRequest = {};
        if (atLeast(req, '2.77') && b && typeof b === 'object') {
          if ('availability_zone' in b) ask.availabilityZone = b.availability_zone;
          if (atLeast(req, '2.91') && b.host !== undefined) ask.host = b.host;
        }
        await compute.shelve.unshelve(ctxOf(req), id, ask);
        accepted(res);
      },
    },
  };
}
