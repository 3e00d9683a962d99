/**
 * Flavor access (Nova's flavor_projects): which projects a private flavor is given to, through
 * addTenantAccess/removeTenantAccess. The primary key makes a second grant a conflict that
 * concurrent processes cannot duplicate; a flavor's grants go with it (deleted in the same
 * transaction as the flavor, see FlavorRepository.delete).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('flavor_projects', (t) => {
    t.string('flavor_id', 255).notNullable();
    t.string('project_id', 64).notNullable().index();
    t.primary(['flavor_id', 'project_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('flavor_projects');
}
