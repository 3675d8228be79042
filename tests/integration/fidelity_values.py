#!/usr/bin/env python3
"""fidelity_values.py SEED N SQLFILE EXPECTEDFILE

Writes random values of every numeric and temporal MySQL type, boundaries
first, as MySQL INSERT statements (SQLFILE) and, independently of MySQL and
of ecsync, what PostgreSQL must hold afterwards (EXPECTEDFILE), one line per
row in the canonical form tests/integration/fidelity.sh reads back:

  id|float bits|double bits|decimal digits|bigint unsigned|bigint|int unsigned|
  smallint|tinyint unsigned|bit(64)|year|date|datetime(6)|timestamp(6) epoch us|time(6) us|
  varchar UTF-8 bytes (hex)|blob bytes (hex)

Floats are compared as IEEE-754 bit patterns (hex, big-endian, what
float4send/float8send give), decimals as their digits, timestamps as
microseconds since the epoch.
"""
import datetime
import random
import struct
import sys

seed, n, sqlfile, expfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
rng = random.Random(seed)


def f32_bits(x):
    return struct.pack('>f', x).hex()


def f64_bits(x):
    return struct.pack('>d', x).hex()


def random_f32():
    """a random finite single-precision value, from its bit pattern"""
    while True:
        b = rng.getrandbits(32)
        if (b >> 23) & 0xff != 0xff:
            return struct.unpack('>f', b.to_bytes(4, 'big'))[0]


def random_f64():
    while True:
        b = rng.getrandbits(64)
        if (b >> 52) & 0x7ff != 0x7ff:
            return struct.unpack('>d', b.to_bytes(8, 'big'))[0]


def f32_literal(x):
    # the shortest text of the value as a double: exact, so MySQL's
    # double-to-float conversion is exact too (9 digits could overshoot
    # FLT_MAX, which MySQL refuses)
    return repr(x)


def decimal_literal(neg, intpart, frac):
    s = ('-' if neg and (intpart or frac.strip('0')) else '') + str(intpart) + '.' + frac
    return s


F32_EDGES = [0.0, 123456.789, 16777217.0, 3.14159265, 0.1, 3.4028234663852886e38,
             -3.4028234663852886e38, 1.1754943508222875e-38, 1.401298464324817e-45,
             -1.401298464324817e-45, 8388607.5, 1e-10, 2.0 ** 24 - 1]
F64_EDGES = [0.0, 1.7976931348623157e308, -1.7976931348623157e308, 2.2250738585072014e-308,
             5e-324, -5e-324, 0.1, 2.0 ** 53 + 2, 123456789.123456789]
DEC_EDGES = [(False, 10 ** 35 - 1, '9' * 30), (True, 10 ** 35 - 1, '9' * 30),
             (False, 0, '0' * 29 + '1'), (True, 0, '0' * 29 + '1'), (False, 0, '0' * 30)]
TS_MIN = 1_000_000          # 1970-01-01 00:00:01 UTC, in microseconds
TS_MAX = 2_147_483_647_999_999
TIME_MAX = (838 * 3600 + 59 * 60 + 59) * 1_000_000
DT_MIN = datetime.datetime(1000, 1, 1)
DT_MAX = datetime.datetime(9999, 12, 31, 23, 59, 59, 999999)


# characters for text: ASCII with COPY's specials, Japanese, emoji; never
# U+0000 (PostgreSQL text cannot hold it) and never a surrogate
CHAR_RANGES = [(0x01, 0x7f), (0x80, 0x7ff), (0x3040, 0x30ff), (0x4e00, 0x9fff),
               (0xff01, 0xff5e), (0x1f300, 0x1f64f)]
SPECIALS = ['\t', '\n', '\r', '\\', '"', "'", ',', 'N', '.']


def random_text():
    n = rng.randint(0, 60)
    out = []
    for _ in range(n):
        if rng.random() < 0.15:
            out.append(rng.choice(SPECIALS))
        else:
            lo, hi = rng.choice(CHAR_RANGES)
            out.append(chr(rng.randint(lo, hi)))
    return ''.join(out)


def random_bytes():
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80)))


def rows():
    for i in range(n):
        edge = lambda edges, gen: edges[i] if i < len(edges) else gen()
        f = struct.unpack('>f', struct.pack('>f', edge(F32_EDGES, random_f32)))[0]
        d = edge(F64_EDGES, random_f64)
        dec = edge(DEC_EDGES, lambda: (rng.random() < 0.5, rng.randrange(10 ** rng.randint(0, 35)),
                                       ''.join(rng.choice('0123456789') for _ in range(30))))
        biu = edge([0, 2 ** 64 - 1, 2 ** 63], lambda: rng.randrange(2 ** 64))
        bi = edge([-2 ** 63, 2 ** 63 - 1, 0, -1], lambda: rng.randrange(-2 ** 63, 2 ** 63))
        iu = edge([0, 2 ** 32 - 1], lambda: rng.randrange(2 ** 32))
        si = edge([-2 ** 15, 2 ** 15 - 1], lambda: rng.randrange(-2 ** 15, 2 ** 15))
        tiu = edge([0, 255], lambda: rng.randrange(256))
        bits = edge([0, 2 ** 64 - 1, 1], lambda: rng.getrandbits(64))
        year = edge([1901, 2155], lambda: rng.randint(1901, 2155))
        dt = edge([DT_MIN, DT_MAX], lambda: DT_MIN + datetime.timedelta(
            microseconds=rng.randrange(int((DT_MAX - DT_MIN) / datetime.timedelta(microseconds=1)))))
        date = dt.date()
        ts = edge([TS_MIN, TS_MAX], lambda: rng.randint(TS_MIN, TS_MAX))
        tm = edge([-TIME_MAX, TIME_MAX, 0, -1], lambda: rng.randint(-TIME_MAX, TIME_MAX))
        # a line "\." inside a value ended psql's \copy of CSV early
        text = edge(['', '\\N', '\\.', '日本語🍣', 'a\n\\.\nb', 'c\r\n\\.\r\nd'], random_text)
        blob = edge([b'', b'\x00', b'\\N', bytes(range(256))[:80]], random_bytes)
        yield i + 1, f, d, dec, biu, bi, iu, si, tiu, bits, year, date, dt, ts, tm, text, blob


def time_literal(us):
    sign = '-' if us < 0 else ''
    us = abs(us)
    s, frac = divmod(us, 1_000_000)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return '%s%d:%02d:%02d.%06d' % (sign, h, m, s, frac)


def ts_literal(us):
    s, frac = divmod(us, 1_000_000)
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=s)
    return t.strftime('%Y-%m-%d %H:%M:%S') + '.%06d' % frac


with open(sqlfile, 'w') as sql, open(expfile, 'w') as exp:
    sql.write("SET time_zone = '+00:00';\n")
    for (i, f, d, dec, biu, bi, iu, si, tiu, bits, year, date, dt, ts, tm, text, blob) in rows():
        neg, ip, frac = dec
        declit = decimal_literal(neg, ip, frac)
        utf8 = text.encode('utf-8')
        # hex literals: the bytes arrive as they are, whatever they hold
        textlit = "CONVERT(X'%s' USING utf8mb4)" % utf8.hex()
        bloblit = "X'%s'" % blob.hex()
        sql.write("INSERT INTO v VALUES (%d, %s, %r, %s, %d, %d, %d, %d, %d, b'%s', %d, '%s', '%s', '%s', '%s', %s, %s);\n" % (
            i, f32_literal(f), d, declit, biu, bi, iu, si, tiu, format(bits, 'b'), year,
            date.isoformat(), dt.strftime('%Y-%m-%d %H:%M:%S.%f'), ts_literal(ts), time_literal(tm),
            textlit, bloblit))
        exp.write('|'.join(str(x) for x in (
            i, f32_bits(f), f64_bits(d), declit, biu, bi, iu, si, tiu, format(bits, '064b'), year,
            date.isoformat(), dt.strftime('%Y-%m-%d %H:%M:%S.%f'), ts, tm, utf8.hex(), blob.hex())) + '\n')
