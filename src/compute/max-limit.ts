/** Nova's CONF.api.max_limit: no page of a compute list is larger, whatever `limit` asks. */
export const MAX_LIMIT = 1000;
