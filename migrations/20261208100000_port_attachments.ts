/**
 * Ports of servers (issue 17, net-core): which ports the compute side made for a server (deleted
 * with it) and which the user passed (only unbound when it goes), and the order a server's ports
 * were attached in (a server lists its interfaces, and Docker attaches its networks, in that order).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('ports', (t) => {
    /** Made by the compute side for device_id's server: deleted when the server goes. */
    t.boolean('auto_delete').notNullable().defaultTo(false);
    /** Attach order among the ports of one device (larger = later); 0 when unbound. */
    t.bigInteger('attach_seq').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('ports', (t) => {
    t.dropColumn('auto_delete');
    t.dropColumn('attach_seq');
  });
}
