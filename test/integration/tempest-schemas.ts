/**
 * Tempest's strict compute response schemas (dumped from the installed tempest 33.0.0 into
 * misc-tempest-schemas.json, hosts-tempest-schemas.json, server-groups-tempest-schemas.json and
 * migrations-tempest-schemas.json, quotas-tempest-schemas.json, issue15-tempest-schemas.json (tags,
 * diagnostics, password, image metadata), unchanged), checked with the formats tempest's validator knows.
 * The app itself comes from the one harness, test/helpers/app.ts.
 */
import net from 'node:net';
import Ajv, { ValidateFunction } from 'ajv';
import miscSchemas from './misc-tempest-schemas.json';
import hostsSchemas from './hosts-tempest-schemas.json';
import serverGroupSchemas from './server-groups-tempest-schemas.json';
import migrationSchemas from './migrations-tempest-schemas.json';
import quotaSchemas from './quotas-tempest-schemas.json';
import issue15Schemas from './issue15-tempest-schemas.json';

/** Every dumped schema: misc (versions, flavors, keypairs…), hosts (services, aggregates), server groups, migrations, quotas and usage, issue 15's. */
const schemas = { ...miscSchemas, ...hostsSchemas, ...serverGroupSchemas, ...migrationSchemas, ...quotaSchemas, ...issue15Schemas };

// ------------------------------------------------------------------------------ tempest schemas

/** Tempest's FormatChecker: draft-4 formats plus iso8601-date-time. */
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
ajv.addFormat('uri', (s: string) => { try { return Boolean(new URL(s).protocol); } catch { return false; } });
ajv.addFormat('ipv4', (s: string) => net.isIPv4(s));
ajv.addFormat('ipv6', (s: string) => net.isIPv6(s));
ajv.addFormat('uuid', /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i);
ajv.addFormat('iso8601-date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/);
// The servers schemas name a "base64" format that tempest's checker does not know, so it checks nothing.
ajv.addFormat('base64', true);

const compiled = new Map<string, ValidateFunction>();

export type TempestSchemaName = keyof typeof schemas;

/**
 * Checks a response against one of tempest's schemas ("v2_1/flavors.list_flavors"): status code
 * and body. Returns the list of problems (empty = valid) so a failing test shows them.
 */
export function tempestProblems(name: TempestSchemaName, res: { status: number; body: unknown }): string[] {
  const s = schemas[name] as { status_code?: number[]; response_body?: object } & Record<string, unknown>;
  const problems: string[] = [];
  // A few entries are fragments (e.g. tenant_networks.param_network), not whole responses.
  const isResponse = Array.isArray(s.status_code);
  if (isResponse && !s.status_code!.includes(res.status)) problems.push(`status ${res.status} not in ${JSON.stringify(s.status_code)}`);
  const bodySchema = isResponse ? s.response_body : s;
  if (bodySchema) {
    let v = compiled.get(name);
    if (!v) {
      v = ajv.compile(bodySchema);
      compiled.set(name, v);
    }
    if (!v(res.body)) problems.push(...(v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`));
  }
  return problems;
}
