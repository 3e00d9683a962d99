/**
 * Project subnets (issue 13): novadock allocates each project's network subnet itself, from
 * NOVADOCK_PROJECT_NETWORK_RANGE, so that it is the same on every compute host (an overlay network
 * spanning hosts has one subnet) and does not use up the engines' few default address pools.
 *
 * One row per subnet handed out: `cidr` is unique (no two projects share one) and `project_id` is
 * unique (a project has one). A row with no project is a subnet an engine refused (it overlaps a
 * network that already exists there): never handed out again. Allocation is an insert that the
 * unique constraints decide, so concurrent processes on SQLite or PostgreSQL never hand out one
 * subnet twice.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('project_subnets', (t) => {
    // "255.255.255.255/32" is 18 characters; room for IPv6 later.
    t.string('cidr', 43).primary();
    t.string('project_id', 64).nullable().unique();
    /** Why a subnet without a project is kept out of use (the engine's refusal). */
    t.string('blocked_reason', 255).nullable();
    t.string('created_at', 32).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('project_subnets');
}
