"""Reading an Ogg stream's pages (RFC 3533) as a checker would: each page's CRC recomputed here, apart
from the encoder's, and its packets cut at the lacing values."""

from __future__ import annotations

import struct
from dataclasses import dataclass

# capture pattern, version, flags, granule position, serial number, sequence number, CRC, segments
_HEADER = struct.Struct("<4sBBqIIIB")
_CONTINUED, _FIRST, _LAST = 1, 2, 4


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        value = byte << 24
        for _ in range(8):
            value = (value << 1) ^ 0x04C11DB7 if value & 0x80000000 else value << 1
        table.append(value & 0xFFFFFFFF)
    return table


_TABLE = _crc_table()


def ogg_crc(data: bytes) -> int:
    """Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, starting at 0, not inverted."""
    value = 0
    for byte in data:
        value = ((value << 8) & 0xFFFFFFFF) ^ _TABLE[(value >> 24) ^ byte]
    return value


@dataclass(frozen=True)
class Page:
    first: bool
    last: bool
    continued: bool
    granule: int
    serial: int
    sequence: int
    crc_valid: bool
    packets: list[bytes]  # the packets that end on this page (an unfinished one goes on the next)
    size: int


def read_pages(data: bytes, *, cut_end: bool = False) -> list[Page]:
    """Every page of `data`, which must be whole pages (`cut_end`: but for the last, which is left out:
    a stream's bytes so far)."""
    pages: list[Page] = []
    offset = 0
    pending = b""
    while offset < len(data):
        if cut_end and offset + _HEADER.size > len(data):
            break
        magic, version, flags, granule, serial, sequence, crc, count = _HEADER.unpack_from(data, offset)
        assert (magic, version) == (b"OggS", 0), f"no page at byte {offset}"
        lacing = data[offset + _HEADER.size : offset + _HEADER.size + count]
        end = offset + _HEADER.size + count + sum(lacing)
        if cut_end and (len(lacing) < count or end > len(data)):
            break
        assert end <= len(data), "a cut page"
        unchecked = bytearray(data[offset:end])
        unchecked[22:26] = bytes(4)
        packets: list[bytes] = []
        position = offset + _HEADER.size + count
        for value in lacing:
            pending += data[position : position + value]
            position += value
            if value < 255:
                packets.append(pending)
                pending = b""
        pages.append(
            Page(
                first=bool(flags & _FIRST),
                last=bool(flags & _LAST),
                continued=bool(flags & _CONTINUED),
                granule=granule,
                serial=serial,
                sequence=sequence,
                crc_valid=ogg_crc(bytes(unchecked)) == crc,
                packets=packets,
                size=end - offset,
            )
        )
        offset = end
    return pages
