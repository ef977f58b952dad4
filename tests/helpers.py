"""Helpers shared by several test files (imported as ``from helpers import ...``)."""

from __future__ import annotations

import json

import pytest

from tastvg.cli import main
from tastvg.data.annotations import AnnotationError
from tastvg.data.vidstg import load_vidstg


def write_annotations(tmp_path, data, name="train.json"):
    """``data`` as the JSON annotation file ``tmp_path/name``; returns its path."""
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def vidstg_error(tmp_path, rec, **kw) -> AnnotationError:
    """Load one VidSTG record ``"7"``; expect an AnnotationError naming the file and the record."""
    path = write_annotations(tmp_path, {"7": rec})
    with pytest.raises(AnnotationError) as info:
        load_vidstg(path, tmp_path, **kw)
    err = info.value
    assert err.file == str(path) and err.record == "7" and "'7'" in str(err)
    return err


def one_error_line(argv, capsys, code: int = 2) -> str:
    """Run the CLI; expect exit status ``code`` and exactly one ``error:`` line on stderr; return it."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now (for a torchrun rendezvous)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recomputed_cross_attention(module, inputs) -> "torch.Tensor":
    """The spatial decoder's cross-attention as the probes recomputed it in a forward hook before
    ``return_intermediates`` (heads averaged): the reference the stored weights are checked against.
    ``inputs`` are the attention module's (q, k, v, key_pad) -> [B*T, S]."""
    q, k, _, pad = inputs
    sq, n, dq = q.shape
    h = module.heads
    qq = q.reshape(sq, n * h, dq // h).transpose(0, 1) * (dq // h) ** -0.5
    kk = k.reshape(k.shape[0], n * h, dq // h).transpose(0, 1)
    a = qq @ kk.transpose(1, 2)
    if pad is not None:
        a = a.view(n, h, sq, -1).masked_fill(pad[:, None, None, :], float("-inf")).view(n * h, sq, -1)
    return a.softmax(-1).view(n, h, -1).mean(1)
