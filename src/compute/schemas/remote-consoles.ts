/**
 * Request schemas of the remote consoles, after nova/api/openstack/compute/schemas/remote_consoles.py:
 * POST /servers/{id}/remote-consoles per microversion band, and the value under each console action's key.
 */
import type { Mv } from '../views/common';

const PROTOCOLS_26 = ['vnc', 'spice', 'serial', 'rdp'];
const TYPES_26 = ['novnc', 'xvpvnc', 'spice-html5', 'serial', 'rdp-html5'];

/** POST /servers/{id}/remote-consoles: 2.6, and 2.8's mks/webmks. */
export function remoteConsoleSchema(mv: Mv): object {
  const mks = mv('2.8');
  return {
    type: 'object',
    properties: {
      remote_console: {
        type: 'object',
        properties: {
          protocol: { type: 'string', enum: mks ? [...PROTOCOLS_26, 'mks'] : PROTOCOLS_26 },
          type: { type: 'string', enum: mks ? [...TYPES_26, 'webmks'] : TYPES_26 },
        },
        required: ['protocol', 'type'],
        additionalProperties: false,
      },
    },
    required: ['remote_console'],
    additionalProperties: false,
  };
}

const consoleAction = (types: string[]) => ({ type: 'object', properties: { type: { type: 'string', enum: types } }, required: ['type'], additionalProperties: false });

/** os-getSerialConsole, os-getVNCConsole, os-getSPICEConsole (2.1–2.5). */
export const serialConsoleAction = consoleAction(['serial']);
export const vncConsoleAction = consoleAction(['novnc', 'xvpvnc']);
export const spiceConsoleAction = consoleAction(['spice-html5']);
