"""3D (motion) backbone: Video Swin-T with (1,4,4) patches and per-frame stage-4 features.

No temporal downsampling: a clip ``[1, 3, T, H, W]`` gives ``[T, C4, ceil(H/32), ceil(W/32)]``
taken from stage 4 before any final norm (the MTTR/ReferFormer variant used by TA-STVG). Frozen.
Numerical conventions follow the official Video Swin code (checked on its outputs): windows
shrink to the feature size (with shift 0) when a dimension is not larger than the window, zero
padding after ``norm1`` without masking, the shifted-window mask value -100, and (by default) the
official relative-position slicing quirk.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tastvg.config import VideoSwinConfig

Size3 = tuple[int, int, int]


def window_size_for(x_size: Size3, window: Size3, shift: Size3) -> tuple[Size3, Size3]:
    """A dimension not larger than the window uses the whole dimension and no shift."""
    w, s = list(window), list(shift)
    for i in range(3):
        if x_size[i] <= window[i]:
            w[i], s[i] = x_size[i], 0
    return (w[0], w[1], w[2]), (s[0], s[1], s[2])


def window_partition(x: Tensor, ws: Size3) -> Tensor:
    """``[B, D, H, W, C]`` -> ``[B * nW, ws0 * ws1 * ws2, C]``."""
    b, d, h, w, c = x.shape
    x = x.view(b, d // ws[0], ws[0], h // ws[1], ws[1], w // ws[2], ws[2], c)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, ws[0] * ws[1] * ws[2], c)


def window_reverse(windows: Tensor, ws: Size3, b: int, d: int, h: int, w: int) -> Tensor:
    x = windows.view(b, d // ws[0], h // ws[1], w // ws[2], ws[0], ws[1], ws[2], -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, d, h, w, -1)


def shifted_window_mask(dims: Size3, ws: Size3, shift: Size3, device: torch.device) -> Tensor:
    """Attention mask ``[nW, S, S]`` (0 or -100) of the shifted-window partition (S tokens per window)."""
    img_mask = torch.zeros((1, *dims, 1), device=device)
    cnt = 0
    slices = [(slice(-ws[i]), slice(-ws[i], -shift[i]), slice(-shift[i], None)) for i in range(3)]
    for sd in slices[0]:
        for sh in slices[1]:
            for sw in slices[2]:
                img_mask[:, sd, sh, sw, :] = cnt
                cnt += 1
    mw = window_partition(img_mask, ws).squeeze(-1)
    mask = mw.unsqueeze(1) - mw.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


def relative_position_index(ws: Size3, table_ws: Size3) -> Tensor:
    """Index ``[S, S]`` of window ``ws`` (S = its token count) into the bias table of a ``table_ws`` window."""
    coords = torch.stack(torch.meshgrid(*[torch.arange(size) for size in ws], indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    rel = rel + torch.tensor([table_ws[0] - 1, table_ws[1] - 1, table_ws[2] - 1])
    strides = torch.tensor([(2 * table_ws[1] - 1) * (2 * table_ws[2] - 1), 2 * table_ws[2] - 1, 1])
    return (rel * strides).sum(-1)


class WindowAttention3D(nn.Module):
    relative_position_index: Tensor

    def __init__(self, dim: int, window: Size3, heads: int, slice_quirk: bool) -> None:
        super().__init__()
        self.window, self.heads, self.slice_quirk = window, heads, slice_quirk
        self.scale = (dim // heads) ** -0.5
        n_rel = (2 * window[0] - 1) * (2 * window[1] - 1) * (2 * window[2] - 1)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(n_rel, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", relative_position_index(window, window))
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def bias(self, ws: Size3) -> Tensor:
        s = ws[0] * ws[1] * ws[2]  # tokens per window
        if self.slice_quirk or ws == self.window:
            index = self.relative_position_index[:s, :s]  # official: first s rows/columns
        else:
            index = relative_position_index(ws, self.window).to(self.relative_position_index.device)
        return self.relative_position_bias_table[index.reshape(-1)].reshape(s, s, -1).permute(2, 0, 1)

    def forward(self, x: Tensor, ws: Size3, mask: Tensor | None) -> Tensor:
        """``x`` [B*nW, S, C] (S tokens per window) -> [B*nW, S, C]."""
        bn, s, c = x.shape
        qkv = self.qkv(x).reshape(bn, s, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1) + self.bias(ws).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(bn // nw, nw, self.heads, s, s) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.heads, s, s)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(bn, s, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


def drop_path(x: Tensor, p: float, training: bool) -> Tensor:
    if p == 0.0 or not training:
        return x
    keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1 - p)
    return x * keep / (1 - p)


class SwinBlock3D(nn.Module):
    def __init__(self, dim: int, heads: int, window: Size3, shift: Size3, mlp_ratio: float,
                 drop_path: float, slice_quirk: bool) -> None:
        super().__init__()
        self.window, self.shift, self.drop_path = window, shift, drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention3D(dim, window, heads, slice_quirk)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def _attend(self, x: Tensor, mask: Tensor | None) -> Tensor:
        b, d, h, w, c = x.shape
        ws, shift = window_size_for((d, h, w), self.window, self.shift)
        x = self.norm1(x)
        pads = [(ws[i] - s % ws[i]) % ws[i] for i, s in enumerate((d, h, w))]
        x = F.pad(x, (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
        _, dp, hp, wp, _ = x.shape
        shifted = any(s > 0 for s in shift)
        if shifted:
            x = torch.roll(x, shifts=(-shift[0], -shift[1], -shift[2]), dims=(1, 2, 3))
        out = self.attn(window_partition(x, ws), ws, mask if shifted else None)
        x = window_reverse(out, ws, b, dp, hp, wp)
        if shifted:
            x = torch.roll(x, shifts=shift, dims=(1, 2, 3))
        return x[:, :d, :h, :w, :].contiguous()

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = x + drop_path(self._attend(x, mask), self.drop_path, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)


class SwinStage(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, window: Size3, mlp_ratio: float,
                 dpr: list[float], slice_quirk: bool) -> None:
        super().__init__()
        self.window = window
        self.shift: Size3 = (window[0] // 2, window[1] // 2, window[2] // 2)
        self.blocks = nn.ModuleList(
            SwinBlock3D(dim, heads, window, (0, 0, 0) if i % 2 == 0 else self.shift, mlp_ratio, dpr[i], slice_quirk)
            for i in range(depth)
        )

    def forward(self, x: Tensor) -> Tensor:
        """``x`` [B, D, H, W, C] -> same shape."""
        _, d, h, w, _ = x.shape
        ws, shift = window_size_for((d, h, w), self.window, self.shift)
        padded = tuple(-(-s // ws[i]) * ws[i] for i, s in enumerate((d, h, w)))
        mask = shifted_window_mask(padded, ws, shift, x.device)  # type: ignore[arg-type]
        for blk in self.blocks:
            x = blk(x, mask)
        return x


class PatchMerging(nn.Module):
    """2x2 spatial merge: concat (even,even), (odd,even), (even,odd), (odd,odd) -> LN -> linear."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: Tensor) -> Tensor:
        _, _, h, w, _ = x.shape
        if h % 2 == 1 or w % 2 == 1:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x))


class PatchEmbed3D(nn.Module):
    def __init__(self, patch: Size3, dim: int, in_channels: int = 3) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv3d(in_channels, dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, 3, T, H, W]`` -> ``[B, T', H', W', C]``."""
        _, _, d, h, w = x.shape
        p = self.patch
        x = F.pad(x, (0, (p[2] - w % p[2]) % p[2], 0, (p[1] - h % p[1]) % p[1], 0, (p[0] - d % p[0]) % p[0]))
        x = self.proj(x)
        return self.norm(x.permute(0, 2, 3, 4, 1))


class VideoSwin(nn.Module):
    """Clip ``[1, 3, T, H, W]`` -> stage-4 per-frame features ``[T, C4, h, w]`` (no final norm)."""

    def __init__(self, cfg: VideoSwinConfig) -> None:
        super().__init__()
        window: Size3 = tuple(cfg.window)  # type: ignore[assignment]
        self.frame_difference = cfg.frame_difference  # not official: see VideoSwinConfig
        self.patch_embed = PatchEmbed3D(tuple(cfg.patch), cfg.embed_dim,  # type: ignore[arg-type]
                                        6 if cfg.frame_difference else 3)
        n_blocks = sum(cfg.depths)
        dpr = [cfg.drop_path * i / max(n_blocks - 1, 1) for i in range(n_blocks)]
        self.layers, self.downsamples = nn.ModuleList(), nn.ModuleList()
        start = 0
        for i, (depth, heads) in enumerate(zip(cfg.depths, cfg.heads)):
            dim = cfg.embed_dim * 2**i
            self.layers.append(SwinStage(dim, depth, heads, window, cfg.mlp_ratio,
                                         dpr[start:start + depth], cfg.slice_relative_position))
            start += depth
            if i < len(cfg.depths) - 1:
                self.downsamples.append(PatchMerging(dim))
        self.out_channels = cfg.embed_dim * 2 ** (len(cfg.depths) - 1)
        if cfg.weights:
            self.load_kinetics_weights(cfg.weights)
        self.requires_grad_(False)

    def load_kinetics_weights(self, path: str | Path) -> None:
        """Load the public K400 Swin-T checkpoint: sum the (2,4,4) patch kernel over time,
        move ``layers.i.downsample`` to ``downsamples.i`` and drop the final ``norm``."""
        state = torch.load(path, map_location="cpu", weights_only=False)
        state = state.get("state_dict", state)
        out = {}
        for k, v in state.items():
            k = k.removeprefix("backbone.")
            if k.startswith(("norm.", "cls_head.")):
                continue
            if ".downsample." in k:
                i, rest = k.removeprefix("layers.").split(".downsample.")
                k = f"downsamples.{i}.{rest}"
            if k == "patch_embed.proj.weight" and v.shape[2] != self.patch_embed.patch[0]:
                v = v.sum(dim=2, keepdim=True)
            out[k] = v
        own = self.state_dict()
        for k in own:  # the index buffers are deterministic; some checkpoints omit them
            if k.endswith("relative_position_index") and k not in out:
                out[k] = own[k]
        self.load_state_dict(out, strict=True)

    def forward(self, clip: Tensor) -> Tensor:
        if self.frame_difference:  # [1, 3, T, H, W] -> [1, 6, T, H, W]: frames, then x_t - x_{t-1} (0 at t = 0)
            clip = torch.cat([clip, clip - torch.cat([clip[:, :, :1], clip[:, :, :-1]], dim=2)], dim=1)
        x = self.patch_embed(clip)  # [1, T, H/4, W/4, C]
        for i, stage in enumerate(self.layers):
            x = stage(x)
            if i < len(self.downsamples):
                x = self.downsamples[i](x)
        return x[0].permute(0, 3, 1, 2).contiguous()  # [T, C4, h, w]
