"""The key that binds unit forms to their master, and the form signature (HMAC-SHA256).

``dtg-xl unit-forms`` makes a random 256-bit key (``secrets``) the first time it cuts forms from
a master and keeps it **only in the master**, as the custom document property
``dtg-xl 填报表密钥`` (``docProps/custom.xml``).  Why there:

* not in a cell: forms are cut cell by cell from the master, so no cell content can leak into a
  form, and a user copying sheets or values never copies the key;
* Excel, WPS and LibreOffice keep custom properties when they save, and the toolkit's own
  writers (evaluate, consolidate, allocate …) copy the part byte for byte, so the key survives
  every round trip of the master;
* the email-safe export (``dtg-xl export``, ``mail``) removes it, so the copy sent out cannot
  sign forms.

Each form's 表单信息 carries the key's public id (密钥编号) and ``签名`` = HMAC-SHA256(key, the
canonical JSON of the form's locked content and identity: form type, template version, key id,
unit, 主表文件, 主表行号, 项目名称, 评价年度, header, editable columns, locked cells, 生成时间).
Canonical values (``unitforms.canon``: 1500 and 1500.0 alike, text trimmed) make the signature
survive a re-save by Excel, WPS or LibreOffice.  Without the key nobody can make a signature
that verifies: a form edited to claim another unit, row or master, or built from scratch, is
refused, and so is a genuine form of another master (another key id) or of last year (same key,
other 评价年度).  ``hmac.compare_digest`` compares in constant time.
"""
from __future__ import annotations

import hmac
import json
import re
import secrets
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

from dtg_xl.errors import DtgError

KEY_PROPERTY = "dtg-xl 填报表密钥"
KEY_SCHEME = "dtgk1"
_KEY_RE = re.compile(rf"^{KEY_SCHEME}:([0-9a-f]{{8}}):([0-9a-f]{{64}})$")


class FormKeyError(DtgError):
    pass


@dataclass(frozen=True)
class FormKey:
    key_id: str  # public: stamped into every form
    secret: bytes  # 32 bytes; never leaves the master

    def text(self) -> str:
        return f"{KEY_SCHEME}:{self.key_id}:{self.secret.hex()}"

    def sign(self, fields: dict) -> str:
        return hmac.new(self.secret, signed_bytes(fields), sha256).hexdigest()

    def verifies(self, fields: dict, signature: str) -> bool:
        return hmac.compare_digest(self.sign(fields), str(signature or ""))


def signed_bytes(fields: dict) -> bytes:
    """The exact bytes signed: canonical JSON (sorted keys, no spaces, UTF-8)."""
    return json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def new_key() -> FormKey:
    return FormKey(secrets.token_hex(4), secrets.token_bytes(32))


def read_key(master: str | Path) -> FormKey | None:
    """The master's key, None when it has none; FormKeyError when the property is damaged."""
    from dtg_xl.xlsx.docprops import read_property

    text = read_property(master, KEY_PROPERTY)
    if text is None:
        return None
    m = _KEY_RE.match(text.strip())
    if not m:
        raise FormKeyError(f"主表“{Path(master).name}”的文档属性“{KEY_PROPERTY}”已损坏（不是本程序写入的格式），"
                           "无法核对填报表；请恢复主表的原文件")
    return FormKey(m[1], bytes.fromhex(m[2]))


def ensure_key(master: str | Path) -> tuple[FormKey, bool]:
    """The master's key; made and saved into the master (in place, atomically) when it has none.
    Returns (key, created)."""
    from dtg_xl.xlsx.docprops import write_property

    key = read_key(master)
    if key is not None:
        return key, False
    key = new_key()
    write_property(master, master, KEY_PROPERTY, key.text())
    return key, True
