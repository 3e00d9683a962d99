/**
 * The resize action of POST /servers/{id}/action (nova/api/openstack/compute/servers.py _resize),
 * a row of the action table in server-actions.ts (confirmResize and revertResize are in
 * move-actions.ts: they end a cold migration and a resize alike).
 *
 *   resize (202)   {"resize": {"flavorRef": …, "OS-DCF:diskConfig"?: "AUTO" | "MANUAL"}}
 */
import { ctxOf } from '../../http/auth';
import type { ComputeServices } from '../services';
import { resizeSchema } from '../schemas/servers';
import type { ActionEntry } from './action-table';
import { diskConfigParam } from './server-requests';

export function resizeActions(compute: Pick<ComputeServices, 'resize'>): Record<string, ActionEntry> {
  return {
    // NOTE(openstack): OS-DCF:diskConfig is recorded (and shown) as Nova records it; a container has no partitions to grow.
    resize: {
      schema: () => resizeSchema,
      run: async (req, res, _id, b, server) => { await compute.resize.resize(ctxOf(req), server, String(b.flavorRef), diskConfigParam(b['OS-DCF:diskConfig'])); res.status(202).end(); },
    },
  };
}
