/**
 * The message of a Glance error body, whichever form it came in: webob's flat JSON (Accept:
 * application/json) or nested under "error" with the status line first (what glanceclient prints).
 */
export function errorMessage(body: { message?: string; error?: { message?: string; code?: string } }): string | undefined {
  if (body.message !== undefined) return body.message;
  const e = body.error;
  if (!e?.message) return undefined;
  return e.code && e.message.startsWith(`${e.code}: `) ? e.message.slice(e.code.length + 2) : e.message;
}
