"""Shipped weights (operando.shipped): the manifest is checked before anything is read, and a
missing or changed file is one error naming the file and the rebuild command."""
from __future__ import annotations

import hashlib
import json

import pytest

from operando.errors import InputError
from operando.shipped import MANIFEST, check_manifest, sha256_of, write_manifest


def folder_with_manifest(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "config.json").write_text('{"hidden": 8}')
    write_manifest(tmp_path, ["model.safetensors", "config.json"], "operando demo train", note="test")
    return tmp_path


def test_manifest_holds_the_hashes_and_the_rebuild_command(tmp_path):
    folder = folder_with_manifest(tmp_path)
    manifest = json.loads((folder / MANIFEST).read_text())
    # the SHA-256 of b"weights", computed independently of sha256_of
    assert manifest["files"]["model.safetensors"] == hashlib.sha256(b"weights").hexdigest()
    assert manifest["files"]["config.json"] == sha256_of(folder / "config.json")
    assert manifest["rebuild"] == "operando demo train" and manifest["note"] == "test"
    assert check_manifest(folder) == manifest


def test_a_changed_file_names_itself_and_the_rebuild_command(tmp_path):
    folder = folder_with_manifest(tmp_path)
    (folder / "model.safetensors").write_bytes(b"weightz")
    with pytest.raises(InputError, match=r"model\.safetensors: SHA-256 .* differs .* rebuild it with `operando demo train`"):
        check_manifest(folder)


def test_a_missing_file_or_manifest_is_one_clear_error(tmp_path):
    folder = folder_with_manifest(tmp_path)
    (folder / "config.json").unlink()
    with pytest.raises(InputError, match=r"config\.json: missing shipped file; rebuild it with `operando demo train`"):
        check_manifest(folder)
    (folder / MANIFEST).unlink()
    with pytest.raises(InputError, match=r"manifest\.json: missing"):
        check_manifest(folder)
