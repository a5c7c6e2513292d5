"""A small but valid DNG for tests: no camera RAW can be had here, so one is written by hand. IFD0 holds
the camera's JPEG preview (NewSubFileType 1, as real DNGs do), a SubIFD the sensor data (16-bit RGGB CFA
mosaic made from the same picture), with the DNG version, camera make/model and a colour matrix: enough
for LibRaw (rawpy) to open it, extract the preview and develop the mosaic."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image


def make_dng(preview: Image.Image, raw_size: tuple[int, int] = (64, 48)) -> bytes:
    """A minimal little-endian DNG: IFD0 = JPEG preview (NewSubFileType 1), SubIFD = 16-bit RGGB CFA."""
    jpeg = io.BytesIO()
    preview.convert("RGB").save(jpeg, "JPEG", quality=90)
    jpeg = jpeg.getvalue()
    W, H = raw_size
    rgb = np.asarray(preview.convert("RGB").resize((W, H)), np.uint16) * 256
    cfa = np.zeros((H, W), np.uint16)
    cfa[0::2, 0::2] = rgb[0::2, 0::2, 0]
    cfa[0::2, 1::2] = rgb[0::2, 1::2, 1]
    cfa[1::2, 0::2] = rgb[1::2, 0::2, 1]
    cfa[1::2, 1::2] = rgb[1::2, 1::2, 2]
    rawbytes = cfa.astype("<u2").tobytes()
    SHORT, LONG, ASCII, RATIONAL, BYTE, SRATIONAL = 3, 4, 2, 5, 1, 10

    def enc(typ, vals):
        if typ == ASCII:
            return vals.encode() + b"\0", len(vals) + 1
        if typ in (RATIONAL, SRATIONAL):
            f = "<ii" if typ == SRATIONAL else "<II"
            return b"".join(struct.pack(f, *v) for v in vals), len(vals)
        f = {BYTE: "<B", SHORT: "<H", LONG: "<I"}[typ]
        return b"".join(struct.pack(f, v) for v in vals), len(vals)

    def ifd_bytes(entries, start, next_ifd=0):
        # entries: list of (tag, type, values); returns bytes placed at `start`
        entries = sorted(entries)
        n = len(entries)
        head = 2 + 12 * n + 4
        data = b""
        out = struct.pack("<H", n)
        for tag, typ, vals in entries:
            payload, count = enc(typ, vals)
            if len(payload) <= 4:
                out += struct.pack("<HHI", tag, typ, count) + payload.ljust(4, b"\0")
            else:
                off = start + head + len(data)
                out += struct.pack("<HHII", tag, typ, count, off)
                data += payload + (b"\0" if len(payload) % 2 else b"")
        out += struct.pack("<I", next_ifd)
        return out + data

    # layout: header(8) | jpeg | raw | IFD0 | SubIFD
    jpeg_off = 8
    raw_off = jpeg_off + len(jpeg) + (len(jpeg) % 2)
    ifd0_off = raw_off + len(rawbytes)
    common = [(271, ASCII, "Canon"), (272, ASCII, "Canon EOS 5D Mark II")]

    def ifd0(sub_off):
        return [
            (254, LONG, [1]),
            (256, LONG, [preview.width]),
            (257, LONG, [preview.height]),
            (258, SHORT, [8, 8, 8]),
            (259, SHORT, [7]),
            (262, SHORT, [6]),
            (273, LONG, [jpeg_off]),
            (277, SHORT, [3]),
            (278, LONG, [preview.height]),
            (279, LONG, [len(jpeg)]),
            (284, SHORT, [1]),
            (330, LONG, [sub_off]),
            (50706, BYTE, [1, 4, 0, 0]),
            (50707, BYTE, [1, 1, 0, 0]),
            (50708, ASCII, "Canon EOS 5D Mark II"),
            (
                50721,
                SRATIONAL,
                [
                    (10000, 10000),
                    (0, 10000),
                    (0, 10000),
                    (0, 10000),
                    (10000, 10000),
                    (0, 10000),
                    (0, 10000),
                    (0, 10000),
                    (10000, 10000),
                ],
            ),
            (50778, SHORT, [21]),
            (50728, RATIONAL, [(1, 1), (1, 1), (1, 1)]),
            *common,
        ]

    probe = ifd_bytes(ifd0(0), ifd0_off)
    sub_off = ifd0_off + len(probe) + (len(probe) % 2)
    first = ifd_bytes(ifd0(sub_off), ifd0_off)
    assert len(first) == len(probe)
    sub = [
        (254, LONG, [0]),
        (256, LONG, [W]),
        (257, LONG, [H]),
        (258, SHORT, [16]),
        (259, SHORT, [1]),
        (262, SHORT, [32803]),
        (273, LONG, [raw_off]),
        (277, SHORT, [1]),
        (278, LONG, [H]),
        (279, LONG, [len(rawbytes)]),
        (284, SHORT, [1]),
        (33421, SHORT, [2, 2]),
        (33422, BYTE, [0, 1, 1, 2]),
        (50714, LONG, [0]),
        (50717, LONG, [65535]),
    ]
    second = ifd_bytes(sub, sub_off)
    out = b"II*\0" + struct.pack("<I", ifd0_off) + jpeg + (b"\0" if len(jpeg) % 2 else b"") + rawbytes + first
    out += b"\0" * (sub_off - len(out)) + second
    return out


def save_dng(path: Path, preview: Image.Image, raw_size: tuple[int, int] = (64, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(make_dng(preview, raw_size))
    return path
