/**
 * Project networks for tests that call a driver directly (the compute service allocates subnets
 * for everyone else). Test runs share the machine's engine with each other, so a subnet is random
 * in a range of the tests' own, 10.192.0.0/12 (4,096 /24s, clear of the product's default
 * 10.160.0.0/12, of the network service's tests' fixed ranges in 10.208.0.0/12 and of
 * scripts/engines.sh's 10.251.0.0/24), and a spawn the engine refuses
 * because another run's network holds the subnet moves to another one, as the compute service
 * does (src/compute/services/instance-builder.ts).
 */
import crypto from 'node:crypto';
import { ComputeDriver, InstanceInfo, InstanceSpec, ProjectNetworkSpec, SubnetUnavailable } from '../../src/virt/driver';

export function randomTestSubnet(): string {
  const n = crypto.randomInt(0, 4096);
  return `10.${192 + (n >> 8)}.${n & 255}.0/24`;
}

export const testNetwork = (projectId: string): ProjectNetworkSpec => ({ projectId, subnet: randomTestSubnet(), addressesInUse: [] });

/** driver.spawn; while the engine refuses the spec's subnet, the spec (changed in place) gets another. */
export async function spawnOnFreeSubnet(driver: ComputeDriver, spec: InstanceSpec): Promise<InstanceInfo> {
  for (let moves = 0; ; moves++) {
    try {
      return await driver.spawn(spec);
    } catch (e) {
      if (!(e instanceof SubnetUnavailable) || !spec.network || moves >= 10) throw e;
      spec.network = { ...spec.network, subnet: randomTestSubnet() };
    }
  }
}
