/**
 * Requests too malformed to reach express (bad framing, invalid method, oversized headers) get a
 * JSON 400 in the Keystone error shape instead of Node's bare text reply, and the socket closes.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';

export function answerMalformedRequests(server: http.Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || (err.code === 'ECONNRESET')) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const title = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
    const body = JSON.stringify({ error: { code: status, title, message: `The request could not be parsed: ${err.message}` } });
    socket.end(`HTTP/1.1 ${status} ${title}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}
