/** The shape of the action table of POST /servers/{id}/action (server-actions.ts, move-actions.ts). */
import type { Request, Response } from 'express';
import type { ServerRecord } from '../server-record';

/** `server`: the server as the request may see it, read for the 404 that comes before the body. */
export type ActionHandler = (req: Request, res: Response, id: string, body: any, server: ServerRecord) => Promise<void>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** One row: the schema of the value under the action's key, and its handler. */
export interface ActionEntry { schema: (req: Request) => object; run: ActionHandler }
