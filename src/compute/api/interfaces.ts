/**
 * os-interface (nova/api/openstack/compute/attach_interfaces.py, issue 17): a server's ports.
 *
 *   GET    /servers/{id}/os-interface            {"interfaceAttachments": [...]}
 *   GET    /servers/{id}/os-interface/{port_id}  {"interfaceAttachment": {...}}
 *   POST   /servers/{id}/os-interface            attach (net_id [+ fixed_ips] | port_id | neither): 200
 *   DELETE /servers/{id}/os-interface/{port_id}  detach: 202
 */
import { Router } from 'express';
import { badRequest } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { validate } from '../../http/validation';
import { attachInterface } from '../schemas/interfaces';
import type { ServerInterfaces } from '../services/interfaces';
import { interfaceAttachmentView } from '../views/interfaces';

interface AttachBody { interfaceAttachment?: { net_id?: string; port_id?: string; fixed_ips?: { ip_address: string }[]; tag?: string } }

export function interfacesRouter({ interfaces }: { interfaces: ServerInterfaces }): Router {
  const r = Router();
  const paths = ['/servers/:id/os-interface', '/servers/:id/os-interface/:portId'];
  r.get('/servers/:id/os-interface', handle(async (req, res) => {
    res.json({ interfaceAttachments: (await interfaces.list(ctxOf(req), req.params.id)).map(interfaceAttachmentView) });
  }));
  r.get('/servers/:id/os-interface/:portId', handle(async (req, res) => {
    res.json({ interfaceAttachment: interfaceAttachmentView(await interfaces.show(ctxOf(req), req.params.id, req.params.portId)) });
  }));
  r.post('/servers/:id/os-interface', handle(async (req, res) => {
    const a = validate<AttachBody>(attachInterface, req.body).interfaceAttachment ?? {};
    if (a.net_id && a.port_id) throw badRequest('Must not input both network_id and port_id');
    if (a.fixed_ips && !a.net_id) throw badRequest('Must input network_id when request IP address');
    const port = await interfaces.attach(ctxOf(req), req.params.id, { netId: a.net_id, portId: a.port_id, fixedIp: a.fixed_ips?.[0]?.ip_address });
    res.json({ interfaceAttachment: interfaceAttachmentView(port) });
  }));
  r.delete('/servers/:id/os-interface/:portId', handle(async (req, res) => {
    await interfaces.detach(ctxOf(req), req.params.id, req.params.portId);
    res.status(202).end();
  }));
  r.all(paths, methodNotAllowed());
  return r;
}
