"""Reading and writing the VBA project of an Excel file (``xl/vbaProject.bin``).

Written from the published specifications, with no Excel involved:

- [MS-CFB] (compound file binary format): :func:`read_cfb` reads every stream
  of a compound file; :func:`write_cfb` writes a new one (version 3, 512-byte
  sectors, small streams in the mini stream, as the spec requires).
- [MS-OVBA] 2.4.1 (compression): :func:`compress` and :func:`decompress`.
- [MS-OVBA] 2.3.4.2 (the ``dir`` stream) and 2.3.1 (the ``PROJECT`` stream):
  :class:`VbaProject` replaces the source of a module, renames one, adds a
  standard module and renames the project.

A module written here carries its source only (``MODULEOFFSET`` 0, no
compiled p-code), and the project's ``_VBA_PROJECT`` stream must say
version ``0xFFFF`` so that Excel ignores any cached p-code and compiles the
source when it opens the file; :meth:`VbaProject.to_bytes` writes that
stream so. xlwings' own add-in templates are shipped in exactly this state.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

# --------------------------------------------------------------------------
# MS-OVBA 2.4.1: compression

_CHUNK = 4096


def _copy_token_help(difference: int) -> tuple[int, int]:
    """(bit count of the offset, maximum length) at ``difference`` bytes into a chunk."""
    bit_count = max((difference - 1).bit_length(), 4)
    return bit_count, (0xFFFF >> bit_count) + 3


def _compress_chunk(data: bytes) -> bytes:
    out = bytearray()
    pos = 0
    n = len(data)
    heads: dict[bytes, list[int]] = {}
    while pos < n:
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if pos >= n:
                break
            bit_count, max_len = _copy_token_help(pos)
            best_len, best_off = 0, 0
            key = data[pos:pos + 3]
            if len(key) == 3:
                for start in reversed(heads.get(key, ())[-64:]):
                    limit = min(max_len, n - pos)
                    length = 3
                    while length < limit and data[start + length] == data[pos + length]:
                        length += 1
                    if length > best_len:
                        best_len, best_off = length, pos - start
                        if length == limit:
                            break
            if best_len >= 3:
                token = ((best_off - 1) << (16 - bit_count)) | (best_len - 3)
                out += struct.pack("<H", token)
                flags |= 1 << bit
                advance = best_len
            else:
                out.append(data[pos])
                advance = 1
            for p in range(pos, pos + advance):
                k = data[p:p + 3]
                if len(k) == 3:
                    heads.setdefault(k, []).append(p)
            pos += advance
        out[flag_at] = flags
    return bytes(out)


def compress(data: bytes) -> bytes:
    """A CompressedContainer holding ``data`` (MS-OVBA 2.4.1.3.1)."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), _CHUNK):
        chunk = data[start:start + _CHUNK]
        packed = _compress_chunk(chunk)
        if len(packed) <= _CHUNK:
            header = (len(packed) + 2 - 3) | (0b011 << 12) | 0x8000
            out += struct.pack("<H", header) + packed
        elif len(chunk) == _CHUNK:  # incompressible full chunk: stored raw
            out += struct.pack("<H", (_CHUNK + 2 - 3) | (0b011 << 12)) + chunk
        else:  # pragma: no cover - needs > 3640 incompressible bytes at the end
            raise ValueError("cannot store an incompressible final chunk")
    return bytes(out)


def decompress(container: bytes) -> bytes:
    """The data of a CompressedContainer (MS-OVBA 2.4.1.3.2)."""
    if not container or container[0] != 1:
        raise ValueError("not a compressed VBA container (signature byte is not 1)")
    out = bytearray()
    pos = 1
    while pos < len(container):
        (header,) = struct.unpack_from("<H", container, pos)
        size = (header & 0x0FFF) + 3
        end = min(pos + size, len(container))
        pos += 2
        chunk_start = len(out)
        if not header & 0x8000:
            out += container[pos:pos + _CHUNK]
            pos += _CHUNK
            continue
        while pos < end:
            flags = container[pos]
            pos += 1
            for bit in range(8):
                if pos >= end:
                    break
                if flags & (1 << bit):
                    (token,) = struct.unpack_from("<H", container, pos)
                    pos += 2
                    bit_count, _ = _copy_token_help(len(out) - chunk_start)
                    length = (token & (0xFFFF >> bit_count)) + 3
                    offset = (token >> (16 - bit_count)) + 1
                    for _ in range(length):
                        out.append(out[-offset])
                else:
                    out.append(container[pos])
                    pos += 1
    return bytes(out)


# --------------------------------------------------------------------------
# MS-CFB: compound files

_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
_FREE, _END, _FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
_NOSTREAM = 0xFFFFFFFF
_SECTOR = 512
_MINI = 64
_CUTOFF = 4096


def read_cfb(data: bytes) -> dict[str, bytes]:
    """Every stream of a compound file by path (``"VBA/dir"``), in directory order."""
    if data[:8] != _SIGNATURE:
        raise ValueError("not a compound file (OLE signature missing)")
    sector = 1 << struct.unpack_from("<H", data, 0x1E)[0]
    mini = 1 << struct.unpack_from("<H", data, 0x20)[0]
    (first_dir,) = struct.unpack_from("<I", data, 0x30)
    (cutoff,) = struct.unpack_from("<I", data, 0x38)
    first_minifat, n_minifat, first_difat, n_difat = struct.unpack_from("<IIII", data, 0x3C)
    difat = [s for s in struct.unpack_from("<109I", data, 0x4C) if s < _FATSECT]
    next_difat = first_difat
    for _ in range(n_difat):
        ids = struct.unpack_from(f"<{sector // 4}I", data, sector + next_difat * sector)
        difat += [s for s in ids[:-1] if s < _FATSECT]
        next_difat = ids[-1]

    def sec(i: int) -> bytes:
        return data[sector + i * sector: sector + (i + 1) * sector]

    fat: list[int] = []
    for s in difat:
        fat += struct.unpack(f"<{sector // 4}I", sec(s))

    def chain(start: int) -> bytes:
        parts, seen = [], set()
        while start < _FATSECT:
            if start in seen:
                raise ValueError("compound file has a sector loop")
            seen.add(start)
            parts.append(sec(start))
            start = fat[start]
        return b"".join(parts)

    directory = chain(first_dir)
    entries = [directory[i:i + 128] for i in range(0, len(directory), 128)]

    def field_(e: bytes) -> tuple[str, int, int, int, int, int, int]:
        (name_len,) = struct.unpack_from("<H", e, 64)
        name = e[:max(name_len - 2, 0)].decode("utf-16-le")
        kind = e[66]
        left, right, child = struct.unpack_from("<III", e, 68)
        start, size = struct.unpack_from("<IQ", e, 116)
        if sector == 512:
            size &= 0xFFFFFFFF
        return name, kind, left, right, child, start, size

    root = field_(entries[0])
    mini_stream = chain(root[5])[:root[6]]
    minifat_bytes = chain(first_minifat) if n_minifat else b""
    minifat = list(struct.unpack(f"<{len(minifat_bytes) // 4}I", minifat_bytes))

    def mini_chain(start: int) -> bytes:
        parts = []
        while start < _FATSECT:
            parts.append(mini_stream[start * mini:(start + 1) * mini])
            start = minifat[start]
        return b"".join(parts)

    streams: dict[str, bytes] = {}

    def walk(index: int, prefix: str) -> None:
        if index == _NOSTREAM:
            return
        name, kind, left, right, child, start, size = field_(entries[index])
        walk(left, prefix)
        if kind == 2:
            body = mini_chain(start) if size < cutoff else chain(start)
            streams[prefix + name] = body[:size]
        elif kind == 1:
            walk(child, prefix + name + "/")
        walk(right, prefix)

    walk(root[4], "")
    return streams


def _sort_key(name: str) -> tuple[int, str]:
    return len(name), name.upper()


@dataclass
class _Node:
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    data: bytes = b""
    children: dict[str, _Node] = field(default_factory=dict)
    index: int = 0
    start: int = _END
    left: int = _NOSTREAM
    right: int = _NOSTREAM
    child: int = _NOSTREAM
    red: bool = False


def write_cfb(streams: dict[str, bytes]) -> bytes:
    """A compound file (version 3) holding ``streams`` by path (``"VBA/dir"``).

    Storages are created from the paths. Siblings form a balanced binary
    red-black tree in the order MS-CFB prescribes (shorter names first,
    then by upper case). Timestamps and CLSIDs are zero, so the same
    streams always give the same bytes.
    """
    root = _Node("Root Entry", 5)
    for path, body in streams.items():
        parts = path.split("/")
        node = root
        for part in parts[:-1]:
            node = node.children.setdefault(part, _Node(part, 1))
        if len(parts[-1]) > 31:
            raise ValueError(f"stream name too long: {parts[-1]}")
        node.children[parts[-1]] = _Node(parts[-1], 2, bytes(body))

    order: list[_Node] = [root]

    def number(node: _Node) -> None:
        for child in node.children.values():
            child.index = len(order)
            order.append(child)
        for child in node.children.values():
            number(child)

    number(root)

    def tree(nodes: list[_Node], depth: int, full: int) -> int:
        # Split at the middle: subtree sizes differ by at most one, so every level
        # but the last is full. Nodes of that last, partial level are red, all
        # others black: every path down has ``full`` black nodes, no red node has
        # a red child, a valid red-black tree as MS-CFB 2.6.4 asks.
        if not nodes:
            return _NOSTREAM
        mid = len(nodes) // 2
        top = nodes[mid]
        top.red = depth >= full
        top.left = tree(nodes[:mid], depth + 1, full)
        top.right = tree(nodes[mid + 1:], depth + 1, full)
        return top.index

    for node in order:
        if node.kind != 2:
            kids = sorted(node.children.values(), key=lambda n: _sort_key(n.name))
            node.child = tree(kids, 0, (len(kids) + 1).bit_length() - 1)

    fat: list[int] = []
    body = bytearray()

    def allocate(data: bytes) -> int:
        if not data:
            return _END
        count = -(-len(data) // _SECTOR)
        first = len(fat)
        fat.extend(range(first + 1, first + count))
        fat.append(_END)
        body.extend(data.ljust(count * _SECTOR, b"\0"))
        return first

    mini = bytearray()
    minifat: list[int] = []
    for node in order:
        if node.kind != 2 or not node.data:
            continue
        if len(node.data) < _CUTOFF:
            count = -(-len(node.data) // _MINI)
            node.start = len(minifat)
            minifat.extend(range(node.start + 1, node.start + count))
            minifat.append(_END)
            mini.extend(node.data.ljust(count * _MINI, b"\0"))
        else:
            node.start = allocate(node.data)
    root.start = allocate(bytes(mini))
    minifat_bytes = b"".join(struct.pack("<I", x) for x in minifat)
    first_minifat = allocate(minifat_bytes.ljust(-(-len(minifat_bytes) // _SECTOR) * _SECTOR,
                                                 b"\xff")) if minifat else _END
    n_minifat = -(-len(minifat_bytes) // _SECTOR)

    entries = bytearray()
    for node in order:
        name = node.name.encode("utf-16-le")
        size = len(mini) if node.kind == 5 else len(node.data)
        entries += struct.pack(
            "<64sHBBIII16sIQQIQ",
            name, len(name) + 2, node.kind, 0 if node.red else 1, node.left, node.right,
            node.child if node.kind != 2 else _NOSTREAM,
            b"\0" * 16, 0, 0, 0, node.start, size,
        )
    empty = struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, _NOSTREAM, _NOSTREAM,
                        _NOSTREAM, b"\0" * 16, 0, 0, 0, 0, 0)
    while len(entries) % _SECTOR:
        entries += empty
    first_dir = allocate(bytes(entries))

    per_sector = _SECTOR // 4
    n_fat = 0
    while n_fat * per_sector < len(fat) + n_fat:
        n_fat += 1
    if n_fat > 109:
        raise ValueError("compound file too large for this writer (no DIFAT sectors)")
    fat_ids = list(range(len(fat), len(fat) + n_fat))
    fat.extend([_FATSECT] * n_fat)
    fat.extend([_FREE] * (n_fat * per_sector - len(fat)))
    fat_bytes = b"".join(struct.pack("<I", x) for x in fat)

    header = bytearray(_SECTOR)
    struct.pack_into(
        "<8s16sHHHHH6sIIIIIIIII", header, 0,
        _SIGNATURE, b"\0" * 16, 0x3E, 3, 0xFFFE, 9, 6, b"\0" * 6,
        0, n_fat, first_dir, 0, _CUTOFF, first_minifat, n_minifat, _END, 0,
    )
    difat = fat_ids + [_FREE] * (109 - len(fat_ids))
    struct.pack_into("<109I", header, 0x4C, *difat)
    return bytes(header) + bytes(body) + fat_bytes


# --------------------------------------------------------------------------
# MS-OVBA 2.3.4.2 and 2.3.1: the dir and PROJECT streams

# Record ids of a module's records, in the order MS-OVBA lays them out.
_MODULENAME, _MODULENAMEUNICODE, _MODULESTREAMNAME = 0x19, 0x47, 0x1A
_MODULEOFFSET, _MODULECOOKIE, _MODULETYPE_STD, _MODULE_END = 0x31, 0x2C, 0x21, 0x2B
_PROJECTNAME, _PROJECTMODULES, _PROJECTCODEPAGE = 0x04, 0x0F, 0x03
_VBA_PROJECT_NO_CACHE = b"\xcc\x61\xff\xff\x00\x01\x00"
"""_VBA_PROJECT with version 0xFFFF and no PerformanceCache (MS-OVBA 2.3.4.1)."""


@dataclass
class _Record:
    id: int
    data: bytes
    size: int | None = None  # the size field when it differs from len(data)

    def to_bytes(self) -> bytes:
        size = len(self.data) if self.size is None else self.size
        return struct.pack("<HI", self.id, size) + self.data


def _parse_records(data: bytes) -> list[_Record]:
    records = []
    pos = 0
    while pos + 6 <= len(data):
        rid, size = struct.unpack_from("<HI", data, pos)
        pos += 6
        if rid == 0x09:  # PROJECTVERSION: size field says 4, 6 bytes follow
            records.append(_Record(rid, data[pos:pos + 6], size))
            pos += 6
            continue
        records.append(_Record(rid, data[pos:pos + size]))
        pos += size
    return records


@dataclass
class _Module:
    records: list[_Record]

    def get(self, rid: int) -> _Record:
        return next(r for r in self.records if r.id == rid)

    @property
    def name(self) -> str:
        return self.get(_MODULENAME).data.decode("latin-1")

    @property
    def stream(self) -> str:
        return self.get(_MODULESTREAMNAME).data.decode("latin-1")

    @property
    def offset(self) -> int:
        return struct.unpack("<I", self.get(_MODULEOFFSET).data)[0]

    def rename(self, name: str, codepage: str) -> None:
        for rec in self.records:
            if rec.id in (_MODULENAME, _MODULESTREAMNAME):
                rec.data = name.encode(codepage)
            elif rec.id in (_MODULENAMEUNICODE, 0x32):
                rec.data = name.encode("utf-16-le")


class VbaProject:
    """The VBA project of an Excel file, opened from ``vbaProject.bin`` bytes."""

    def __init__(self, data: bytes) -> None:
        self.streams = read_cfb(data)
        records = _parse_records(decompress(self.streams["VBA/dir"]))
        first = next(i for i, r in enumerate(records) if r.id == _MODULENAME)
        self._head = records[:first]
        self.modules: list[_Module] = []
        current: list[_Record] = []
        for rec in records[first:]:
            current.append(rec)
            if rec.id == _MODULE_END:
                self.modules.append(_Module(current))
                current = []
        self._tail = current  # the dir terminator (0x10) and its reserved field
        (cp,) = struct.unpack("<H", self._head_record(_PROJECTCODEPAGE).data)
        self.codepage = f"cp{cp}"

    def _head_record(self, rid: int) -> _Record:
        return next(r for r in self._head if r.id == rid)

    def module(self, name: str) -> _Module:
        for m in self.modules:
            if m.name.lower() == name.lower():
                return m
        raise KeyError(f"no VBA module {name!r}")

    @property
    def name(self) -> str:
        return self._head_record(_PROJECTNAME).data.decode(self.codepage)

    def source(self, name: str) -> str:
        """The source text of a module, ``Attribute`` lines included."""
        m = self.module(name)
        raw = self.streams["VBA/" + m.stream]
        return decompress(raw[m.offset:]).decode(self.codepage)

    def set_source(self, name: str, text: str) -> None:
        """Replace a module's source; its compiled p-code is dropped."""
        m = self.module(name)
        self.streams["VBA/" + m.stream] = compress(text.encode(self.codepage))
        m.get(_MODULEOFFSET).data = struct.pack("<I", 0)

    def rename_module(self, old: str, new: str) -> None:
        """Rename a standard module (its ``Attribute VB_Name`` line must say ``new``)."""
        m = self.module(old)
        body = self.streams.pop("VBA/" + m.stream)
        m.rename(new, self.codepage)
        self.streams["VBA/" + new] = body
        self._project_text = self._project().replace(f"Module={old}\r\n", f"Module={new}\r\n")
        self._project_text = self._project_text.replace(f"\r\n{old}=", f"\r\n{new}=")
        self._rename_wm(old, new)

    def add_module(self, name: str, text: str) -> None:
        """Add a standard module with source ``text``."""
        template = next(m for m in self.modules
                        if any(r.id == _MODULETYPE_STD for r in m.records))
        records = [_Record(r.id, r.data, r.size) for r in template.records]
        new = _Module(records)
        new.rename(name, self.codepage)
        for rec in records:
            if rec.id in (0x1C, 0x48):  # MODULEDOCSTRING and its unicode: none
                rec.data = b""
            elif rec.id == _MODULECOOKIE:
                rec.data = b"\xff\xff"
        self.modules.append(new)
        self.streams["VBA/" + name] = b""
        self.set_source(name, text)
        count = self._head_record(_PROJECTMODULES)
        count.data = struct.pack("<H", len(self.modules))
        text_ = self._project()
        marker = "Name=\""
        at = text_.index(marker)
        self._project_text = text_[:at] + f"Module={name}\r\n" + text_[at:]
        wm = self.streams.get("PROJECTwm")
        if wm is not None:
            entry = name.encode(self.codepage) + b"\0" + name.encode("utf-16-le") + b"\0\0"
            self.streams["PROJECTwm"] = wm[:-2] + entry + b"\0\0"

    def rename_project(self, name: str) -> None:
        self._head_record(_PROJECTNAME).data = name.encode(self.codepage)
        text = self._project()
        start = text.index('\r\nName="') + len('\r\nName="')
        end = text.index('"', start)
        self._project_text = text[:start] + name + text[end:]

    def _project(self) -> str:
        if not hasattr(self, "_project_text"):
            self._project_text = self.streams["PROJECT"].decode(self.codepage)
        return self._project_text

    def _rename_wm(self, old: str, new: str) -> None:
        wm = self.streams.get("PROJECTwm")
        if wm is None:
            return
        old_entry = old.encode(self.codepage) + b"\0" + old.encode("utf-16-le") + b"\0\0"
        new_entry = new.encode(self.codepage) + b"\0" + new.encode("utf-16-le") + b"\0\0"
        self.streams["PROJECTwm"] = wm.replace(old_entry, new_entry, 1)

    def to_bytes(self) -> bytes:
        """The ``vbaProject.bin`` bytes; Excel recompiles the project from source."""
        records = [*self._head]
        for m in self.modules:
            records += m.records
        records += self._tail
        streams = dict(self.streams)
        streams["VBA/dir"] = compress(b"".join(r.to_bytes() for r in records))
        streams["VBA/_VBA_PROJECT"] = _VBA_PROJECT_NO_CACHE
        streams["PROJECT"] = self._project().encode(self.codepage)
        return write_cfb(streams)
