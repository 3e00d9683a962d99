/** The shape of the action table of POST /servers/{id}/action (server-actions.ts, move-actions.ts). */
import type { Request, Response } from 'express';

export type ActionHandler = (req: Request, res: Response, id: string, body: any) => Promise<void>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** One row: the schema of the value under the action's key, and its handler. */
export interface ActionEntry { schema: (req: Request) => object; run: ActionHandler }
