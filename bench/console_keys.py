"""Keystroke round trips into a busybox shell, for bench/console.ts: the same client loop on both sides.

    python3 bench/console_keys.py exec <container> <keys>   docker exec -it, driven through a pty
    python3 bench/console_keys.py ws <url> <keys>           novadock's serial console (websocket-client)

Types one byte, waits until it comes back, types the next; a Ctrl-U every 40 bytes keeps the line
short. Prints the round trips (ms) as a JSON list. Only the transport differs between the two sides:
a pseudo-terminal read with select() and os.read(), or a websocket (Debian's python3-websocket,
TCP_NODELAY as it sets by default) read with recv_data().
"""
import json
import os
import pty
import select
import sys
import time


class Pty:
    """`docker exec -it <container> /bin/sh` as a user's terminal runs it."""

    def __init__(self, container):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvp('docker', ['docker', 'exec', '-it', container, '/bin/sh'])

    def send(self, data):
        os.write(self.fd, data)

    def recv(self, timeout):
        if not select.select([self.fd], [], [], timeout)[0]:
            return None
        return os.read(self.fd, 4096)

    def close(self):
        self.send(b'\x15exit\n')
        try:
            while self.recv(5) is not None:
                pass
        except OSError:
            pass  # the pty is gone with the process
        os.waitpid(self.pid, 0)


class Ws:
    """The console URL, subprotocol `binary`, as Nova's serial proxy speaks it."""

    def __init__(self, url):
        import websocket  # Debian: python3-websocket
        self.ws = websocket.create_connection(url, subprotocols=['binary'])
        self.ws.settimeout(None)

    def send(self, data):
        self.ws.send_binary(data)

    def recv(self, timeout):
        # recv_data() reads exactly one frame's bytes off the socket (no read-ahead), so between
        # frames the socket itself says whether more output is there: the same select() as the pty's.
        if not select.select([self.ws.sock], [], [], timeout)[0]:
            return None
        return self.ws.recv_data()[1]

    def close(self):
        self.ws.close()


def main():
    mode, target, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    term = Pty(target) if mode == 'exec' else Ws(target)
    buf = bytearray()

    def read_until(want, timeout=20.0):
        end = time.monotonic() + timeout
        while want not in buf:
            data = term.recv(max(0.001, end - time.monotonic()))
            if data is None:
                sys.exit(f'{mode}: no answer: {bytes(buf[-200:])!r}')
            buf.extend(data)

    def drain(quiet):
        while term.recv(quiet) is not None:
            pass

    read_until(b'# ')
    drain(0.2)
    keys = b'abcdefghij'
    lat = []
    for i in range(n):
        ch = keys[i % len(keys):i % len(keys) + 1]
        buf.clear()
        t0 = time.perf_counter()
        term.send(ch)
        read_until(ch)
        lat.append((time.perf_counter() - t0) * 1000.0)
        if i % 40 == 39:
            term.send(b'\x15')
            drain(0.05)
    term.close()
    print(json.dumps(lat))


main()
