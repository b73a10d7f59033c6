"""An independent AvroSourceProtocol peer for logflow's interop tests: Apache Avro's own
Python implementation (Debian's python3-avro) over a small Netty-framed transport.

  avro_peer.py send PORT BATCHES SIZE   -- a Requestor: `append` once, then BATCHES
                                           `appendBatch` calls of SIZE events; prints one
                                           status per call
  avro_peer.py serve COUNT              -- a Responder: prints `port N`, accepts one
                                           connection, prints each event body as a JSON
                                           line until COUNT events came, then exits

A last argument `deflate` speaks Flume's compression-type = deflate: each direction is
one zlib stream (Python's zlib, independent of node:zlib), sync-flushed after each frame.
"""
import io
import json
import socket
import struct
import sys
import time
import zlib

import avro.io
import avro.ipc
import avro.protocol

PROTOCOL = avro.protocol.parse(json.dumps({
    "protocol": "AvroSourceProtocol",
    "namespace": "org.apache.flume.source.avro",
    "types": [
        {"type": "enum", "name": "Status", "symbols": ["OK", "FAILED", "UNKNOWN"]},
        {"type": "record", "name": "AvroFlumeEvent", "fields": [
            {"name": "headers", "type": {"type": "map", "values": "string"}},
            {"name": "body", "type": "bytes"}]},
    ],
    "messages": {
        "append": {"request": [{"name": "event", "type": "AvroFlumeEvent"}], "response": "Status"},
        "appendBatch": {"request": [{"name": "events", "type": {"type": "array", "items": "AvroFlumeEvent"}}],
                        "response": "Status"},
    },
}))


class Wire:
    """A socket, optionally with a zlib stream each way (Netty's ZlibEncoder/ZlibDecoder)."""

    def __init__(self, sock, deflate):
        self.sock = sock
        self.deflate = zlib.compressobj(6) if deflate else None
        self.inflate = zlib.decompressobj() if deflate else None
        self.buffered = b""

    def sendall(self, data):
        if self.deflate:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def recv(self, n):
        while not self.buffered:
            chunk = self.sock.recv(65536)
            if not chunk:
                return b""
            self.buffered = self.inflate.decompress(chunk) if self.inflate else chunk
        data, self.buffered = self.buffered[:n], self.buffered[n:]
        return data

    def close(self):
        self.sock.close()


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


def read_frame(sock):
    """Netty framing: [serial][buffer count] then [length][bytes] per buffer."""
    serial, count = struct.unpack(">ii", recv_exact(sock, 8))
    payload = b""
    for _ in range(count):
        (length,) = struct.unpack(">i", recv_exact(sock, 4))
        payload += recv_exact(sock, length)
    return serial, payload


def write_frame(sock, serial, payload):
    sock.sendall(struct.pack(">iii", serial, 1, len(payload)) + payload)


class NettyTransceiver:
    """What avro.ipc.Requestor needs: a name and a request -> response exchange."""

    def __init__(self, host, port, deflate=False):
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = Wire(sock, deflate)
        self.serial = 0
        self.remote_name = f"{host}:{port}"

    def transceive(self, request):
        self.serial += 1
        write_frame(self.sock, self.serial, request)
        serial, payload = read_frame(self.sock)
        assert serial == self.serial, (serial, self.serial)
        return payload


def send(port, batches, size, deflate=False):
    requestor = avro.ipc.Requestor(PROTOCOL, NettyTransceiver("127.0.0.1", port, deflate))
    now = str(int(time.time() * 1000))
    print(requestor.request("append", {"event": {"headers": {"timestamp": now}, "body": b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /python/append HTTP/1.1" 200 1'}}), flush=True)
    for b in range(batches):
        events = [{"headers": {"timestamp": now, "id": f"py-{b}-{i}"},
                   "body": f'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /python/{i % 7} HTTP/1.1" 200 1'.encode()}
                  for i in range(size)]
        print(requestor.request("appendBatch", {"events": events}), flush=True)


class Collector(avro.ipc.Responder):
    def __init__(self):
        super().__init__(PROTOCOL)
        self.events = []

    def invoke(self, message, request):
        if message.name == "append":
            self.events.append(request["event"])
        else:
            self.events.extend(request["events"])
        return "OK"


def serve(count, deflate=False):
    responder = Collector()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    print(f"port {server.getsockname()[1]}", flush=True)
    conn, _ = server.accept()
    conn = Wire(conn, deflate)
    client_hash = None
    seen = 0
    while seen < count:
        serial, payload = read_frame(conn)
        if client_hash is None or payload[:16] == client_hash:
            client_hash = payload[:16]  # a call that carries the handshake (the first, a resend)
            reply = responder.respond(payload)
        else:
            # A stateful (Netty) client shakes hands once; avro.ipc's Responder wants a
            # handshake on every call: give it one, and drop its answer from the reply.
            hs = io.BytesIO()
            avro.ipc.HANDSHAKE_REQUESTOR_WRITER.write(
                {"clientHash": client_hash, "serverHash": responder.local_hash, "clientProtocol": None, "meta": None},
                avro.io.BinaryEncoder(hs))
            full = responder.respond(hs.getvalue() + payload)
            reader = io.BytesIO(full)
            avro.ipc.HANDSHAKE_REQUESTOR_READER.read(avro.io.BinaryDecoder(reader))
            reply = full[reader.tell():]
        write_frame(conn, serial, reply)
        for event in responder.events[seen:]:
            print(json.dumps({"headers": event["headers"], "body": event["body"].decode()}), flush=True)
        seen = len(responder.events)
    conn.close()


if __name__ == "__main__":
    deflate = sys.argv[-1] == "deflate"
    if sys.argv[1] == "send":
        send(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), deflate)
    else:
        serve(int(sys.argv[2]), deflate)
