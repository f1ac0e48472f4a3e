"""Where the persistent compilation cache goes."""

from pathlib import Path

from multilevel.inference import cache_dir


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MULTILEVEL_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"


def test_cache_off(monkeypatch):
    monkeypatch.setenv("MULTILEVEL_CACHE_DIR", "off")
    assert cache_dir() is None


def test_cache_default_is_user_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("MULTILEVEL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == Path(tmp_path) / "multilevel" / "jax"
