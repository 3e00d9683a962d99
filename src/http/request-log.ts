/** Request ids and one structured log line per request. */
import crypto from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

export function requestId(): RequestHandler {
  return (req, res, next) => {
    req.id = `req-${crypto.randomUUID()}`;
    res.setHeader('X-OpenStack-Request-Id', req.id);
    next();
  };
}

export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    let logged = false;
    const done = () => {
      if (logged) return;
      logged = true;
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      log.info({
        req_id: req.id,
        method: req.method,
        url: req.originalUrl,
        status: res.headersSent ? res.statusCode : 499,
        ms: Math.round(ms * 10) / 10,
        user_id: req.context?.userId,
        project_id: req.context?.projectId,
        aborted: !res.writableFinished || undefined,
      }, 'request');
    };
    res.on('finish', done);
    res.on('close', done);
    next();
  };
}
