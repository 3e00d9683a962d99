/**
 * The Networking API's records (issue 17, a Neutron v2.0 subset over Docker networks). One
 * migration for the tables the network service's parts share, so networks, ports, security
 * groups and floating IPs agree on one model (Neutron's own, reduced):
 *
 *   networks ──< subnets ──< ip_allocations >── ports >── port_security_groups ──< security_groups
 *       │                                         │                                  └─< security_group_rules
 *       └─ docker_name: the engine network        └─ device_id: the server (or router) using it
 *          behind it (the project's default               device_owner: compute:<zone> | network:*
 *          network keeps today's per-project one)          host: the compute host it is bound to
 *   floating_ips ── port_id (nullable), floating_network_id (router:external), router_id
 *   routers ── external_network_id; its interfaces are ports (device_owner network:router_interface)
 *
 * Compare-and-set by constraint, never read-then-write:
 * - an address is handed out by inserting (subnet_id, ip_address) into ip_allocations (primary
 *   key): two ports, in any process, never get one address;
 * - a floating IP's address is unique per external network; a port has one MAC on a network;
 * - a project's default network and default security group are unique per project
 *   (`default_for` = the project id, null for every other row), so concurrent first uses make one.
 * Lists (allocation pools, DNS servers, host routes, external fixed IPs) are JSON text.
 * Booleans are integers 0/1 on SQLite and booleans on PostgreSQL (knex maps both).
 */
import type { Knex } from 'knex';

const stamps = (t: Knex.CreateTableBuilder) => {
  t.integer('revision_number').notNullable().defaultTo(0);
  t.string('created_at', 32).notNullable();
  t.string('updated_at', 32).notNullable();
};

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('networks', (t) => {
    t.string('id', 36).primary();
    t.string('project_id', 64).notNullable().index();
    t.string('name', 255).notNullable().defaultTo('');
    t.string('description', 255).notNullable().defaultTo('');
    t.boolean('shared').notNullable().defaultTo(false);
    /** router:external */
    t.boolean('external').notNullable().defaultTo(false);
    t.boolean('admin_state_up').notNullable().defaultTo(true);
    t.integer('mtu').notNullable().defaultTo(1500);
    t.string('status', 16).notNullable().defaultTo('ACTIVE');
    /** The project whose default network this is (today's per-project Docker network), else null. */
    t.string('default_for', 64).nullable().unique();
    /** The engine network behind it, on every host that needs it (null: not made anywhere yet). */
    t.string('docker_name', 255).nullable();
    stamps(t);
  });
  await knex.schema.createTable('subnets', (t) => {
    t.string('id', 36).primary();
    t.string('network_id', 36).notNullable().index().references('networks.id').onDelete('CASCADE');
    t.string('project_id', 64).notNullable().index();
    t.string('name', 255).notNullable().defaultTo('');
    t.string('description', 255).notNullable().defaultTo('');
    t.integer('ip_version').notNullable().defaultTo(4);
    t.string('cidr', 43).notNullable();
    t.string('gateway_ip', 45).nullable();
    /** JSON [{start, end}] */
    t.text('allocation_pools').notNullable().defaultTo('[]');
    /** JSON [address] */
    t.text('dns_nameservers').notNullable().defaultTo('[]');
    /** JSON [{destination, nexthop}] */
    t.text('host_routes').notNullable().defaultTo('[]');
    t.boolean('enable_dhcp').notNullable().defaultTo(true);
    stamps(t);
  });
  await knex.schema.createTable('ports', (t) => {
    t.string('id', 36).primary();
    t.string('network_id', 36).notNullable().index().references('networks.id');
    t.string('project_id', 64).notNullable().index();
    t.string('name', 255).notNullable().defaultTo('');
    t.string('description', 255).notNullable().defaultTo('');
    t.string('mac_address', 17).notNullable();
    t.string('device_id', 255).notNullable().defaultTo('').index();
    t.string('device_owner', 255).notNullable().defaultTo('');
    /** ACTIVE | DOWN | BUILD */
    t.string('status', 16).notNullable().defaultTo('DOWN');
    t.boolean('admin_state_up').notNullable().defaultTo(true);
    t.boolean('port_security_enabled').notNullable().defaultTo(true);
    /** binding:host_id: the compute host whose engine has the container attached. */
    t.string('host', 255).notNullable().defaultTo('');
    stamps(t);
    t.unique(['network_id', 'mac_address']);
  });
  await knex.schema.createTable('ip_allocations', (t) => {
    t.string('subnet_id', 36).notNullable().references('subnets.id').onDelete('CASCADE');
    t.string('ip_address', 45).notNullable();
    t.string('port_id', 36).notNullable().index().references('ports.id').onDelete('CASCADE');
    t.string('network_id', 36).notNullable().index();
    t.primary(['subnet_id', 'ip_address']);
  });
  await knex.schema.createTable('security_groups', (t) => {
    t.string('id', 36).primary();
    t.string('project_id', 64).notNullable().index();
    t.string('name', 255).notNullable().defaultTo('');
    t.string('description', 255).notNullable().defaultTo('');
    t.boolean('stateful').notNullable().defaultTo(true);
    /** The project whose `default` group this is, else null. */
    t.string('default_for', 64).nullable().unique();
    stamps(t);
  });
  await knex.schema.createTable('security_group_rules', (t) => {
    t.string('id', 36).primary();
    t.string('security_group_id', 36).notNullable().index().references('security_groups.id').onDelete('CASCADE');
    t.string('project_id', 64).notNullable();
    /** ingress | egress */
    t.string('direction', 8).notNullable();
    /** IPv4 | IPv6 */
    t.string('ethertype', 8).notNullable().defaultTo('IPv4');
    /** null = any; else a name (tcp, udp, icmp, …) or a number as a string */
    t.string('protocol', 16).nullable();
    t.integer('port_range_min').nullable();
    t.integer('port_range_max').nullable();
    t.string('remote_ip_prefix', 49).nullable();
    t.string('remote_group_id', 36).nullable().index();
    t.string('description', 255).notNullable().defaultTo('');
    stamps(t);
  });
  await knex.schema.createTable('port_security_groups', (t) => {
    t.string('port_id', 36).notNullable().references('ports.id').onDelete('CASCADE');
    t.string('security_group_id', 36).notNullable().index().references('security_groups.id');
    t.primary(['port_id', 'security_group_id']);
  });
  await knex.schema.createTable('routers', (t) => {
    t.string('id', 36).primary();
    t.string('project_id', 64).notNullable().index();
    t.string('name', 255).notNullable().defaultTo('');
    t.string('description', 255).notNullable().defaultTo('');
    t.boolean('admin_state_up').notNullable().defaultTo(true);
    t.string('status', 16).notNullable().defaultTo('ACTIVE');
    /** external_gateway_info.network_id, null without a gateway */
    t.string('external_network_id', 36).nullable().references('networks.id');
    t.boolean('enable_snat').notNullable().defaultTo(true);
    /** JSON [{subnet_id, ip_address}]: the router's own address(es) on the external network */
    t.text('external_fixed_ips').notNullable().defaultTo('[]');
    stamps(t);
  });
  await knex.schema.createTable('floating_ips', (t) => {
    t.string('id', 36).primary();
    t.string('project_id', 64).notNullable().index();
    t.string('floating_network_id', 36).notNullable().references('networks.id');
    t.string('subnet_id', 36).nullable();
    t.string('floating_ip_address', 45).notNullable();
    t.string('port_id', 36).nullable().unique().references('ports.id');
    t.string('fixed_ip_address', 45).nullable();
    t.string('router_id', 36).nullable();
    /** ACTIVE (forwarding) | DOWN (not associated, or its forward is not installed) */
    t.string('status', 16).notNullable().defaultTo('DOWN');
    t.string('description', 255).notNullable().defaultTo('');
    /** The compute host where the forward is installed now ('' none): where to remove it from. */
    t.string('host', 255).notNullable().defaultTo('');
    stamps(t);
    t.unique(['floating_network_id', 'floating_ip_address']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['floating_ips', 'routers', 'port_security_groups', 'security_group_rules', 'security_groups', 'ip_allocations', 'ports', 'subnets', 'networks']) {
    await knex.schema.dropTable(table);
  }
}
