/** A server as the services see it (the repository parses rows into this). */
import type { PowerState } from '../virt/driver';
import type { FlavorRecord } from '../db/flavor-repo';
import type { VmState } from './vm-states';
import type { TaskState } from './task-states';

/** The flavor as it was at boot (Nova embeds it in the instance; views at >= 2.47 show it). */
export type FlavorSnapshot = Pick<FlavorRecord, 'id' | 'name' | 'ram' | 'vcpus' | 'disk' | 'ephemeral' | 'swap' | 'extra_specs'>;

export interface ServerAddress {
  addr: string;
  version: 4 | 6;
  mac: string;
}

export interface Fault {
  code: number;
  message: string;
  details?: string;
  created: string;
}

export interface ServerRecord {
  id: string;
  name: string;
  project_id: string;
  user_id: string;
  image_id: string | null;
  flavor_id: string;
  flavor: FlavorSnapshot;
  vm_state: VmState;
  task_state: TaskState | null;
  power_state: PowerState;
  host: string | null;
  availability_zone: string;
  /** Monotonic number behind OS-EXT-SRV-ATTR:instance_name (instance-%08x). */
  sequence: number;
  reservation_id: string;
  launch_index: number;
  hostname: string;
  description: string | null;
  metadata: Record<string, string>;
  /** {"<network label>": [{addr, version, mac}]} */
  addresses: Record<string, ServerAddress[]>;
  requested_networks: 'auto' | 'none' | string[];
  access_ip_v4: string;
  access_ip_v6: string;
  key_name: string | null;
  key_data: string | null;
  /** Base64, as sent. */
  user_data: string | null;
  config_drive: boolean;
  /** OS-DCF:diskConfig: true = AUTO, false = MANUAL (Nova's auto_disk_config). */
  auto_disk_config: boolean;
  security_groups: string[];
  tags: string[];
  locked: boolean;
  locked_by: 'owner' | 'admin' | null;
  locked_reason: string | null;
  progress: number;
  fault: Fault | null;
  launched_at: string | null;
  terminated_at: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  deleted: boolean;
  /** Shelve's system_metadata (Nova's shelved_at, shelved_image_id, shelved_host): set while shelved. */
  shelved_at?: string | null;
  shelved_image_id?: string | null;
  shelved_host?: string | null;
  /**
   * The worker (novadock process) that made the last state change, i.e. the one doing the task
   * in flight; set by the repository. A task whose owner is dead is recovered by a survivor.
   */
  task_owner?: string | null;
}
