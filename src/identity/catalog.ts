/** The service catalog, built from the public base URL (contract §2). Ids are stable across restarts. */
import crypto from 'node:crypto';

const stableId = (s: string) => crypto.createHash('sha256').update(s).digest('hex').slice(0, 32);

export const REGION = 'RegionOne';

export function buildCatalog(publicUrl: string) {
  const services = [
    { type: 'identity', name: 'keystone', url: `${publicUrl}/identity` },
    { type: 'compute', name: 'nova', url: `${publicUrl}/compute/v2.1` },
    // NOTE(openstack): unversioned on purpose: novaclient appends /v2/images to it (contract §2).
    { type: 'image', name: 'glance', url: `${publicUrl}/image` },
    // issue 17 (net-core): the Networking API, unversioned as Neutron's endpoint is (clients discover v2.0)
    { type: 'network', name: 'neutron', url: `${publicUrl}/networking` },
  ];
  return services.map((s) => ({
    id: stableId(`service:${s.type}`),
    type: s.type,
    name: s.name,
    endpoints: ['public', 'internal', 'admin'].map((iface) => ({
      id: stableId(`endpoint:${s.type}:${iface}`),
      interface: iface,
      region_id: REGION,
      region: REGION,
      url: s.url,
    })),
  }));
}
