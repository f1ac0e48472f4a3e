"""A study's folder of finished replicates: `study.json` says which study it belongs to, and
`replicates/<task>.json` holds one row each, written atomically (a killed run leaves whole
files only), so a rerun reads them back and runs only the rest."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import write_atomic
from .._errors import FileFormatError, ModelError

if TYPE_CHECKING:
    from ._execute import Row, Study

MANIFEST = "study.json"


@dataclass(frozen=True)
class Checkpoint:
    folder: Path

    @classmethod
    def open(cls, folder: str | os.PathLike, study: Study) -> Checkpoint:
        """The folder for `study`, created if new; one holding another study is refused
        (its rows come from other settings and would mix into the results)."""
        folder = Path(folder)
        (folder / "replicates").mkdir(parents=True, exist_ok=True)
        manifest = folder / MANIFEST
        digest = study.digest()
        if manifest.exists():
            stored = _read(manifest)
            if stored.get("digest") != digest or stored.get("kind") != study.kind:
                raise ModelError(
                    f"the checkpoint folder {folder} holds the replicates of another "
                    f"{stored.get('kind', 'study')} (other model, truth, sizes, seed or fit "
                    "settings): give a new folder, or remove this one to start over"
                )
        else:
            content = {"kind": study.kind, "digest": digest, "study": study.describe()}
            _write_json(manifest, content, sort_keys=True)
        return cls(folder)

    def rows(self) -> dict[str, Row]:
        """The finished replicates, by task name."""
        return {p.stem: _read(p) for p in sorted((self.folder / "replicates").glob("*.json"))}

    def write(self, name: str, row: Row) -> None:
        _write_json(self.folder / "replicates" / f"{name}.json", row)


def _write_json(path: Path, content: Any, sort_keys: bool = False) -> None:
    """A row keeps its keys' order, so that rows read back line up with fresh ones."""
    text = json.dumps(content, indent=1, sort_keys=sort_keys, default=str).encode()
    write_atomic(path, lambda handle: handle.write(text))


def _read(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise FileFormatError(
            f"{path} is not a checkpoint this package wrote ({error}); remove it and rerun"
        ) from None
    if not isinstance(content, dict):
        raise FileFormatError(f"{path} is not a checkpoint this package wrote; remove it")
    return content
