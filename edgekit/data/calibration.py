"""Calibration sources (labelled data sets for training and evaluation are in `datasets`).

Calibration sets come from a `.npz` (one array per model input, keyed by input name, or a
single array), a `.npy` (one array), or a folder of images resized to the model input. Every
set is checked against the model's inputs before any conversion starts.
"""

from __future__ import annotations

import contextlib
import math
import warnings
import zipfile
from pathlib import Path

import numpy as np

from edgekit.core import limits
from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import EdgekitError, first_line, unreadable
from edgekit.core.files import _check_npy_header, check_npz, check_regular, special_kind
from edgekit.core.units import human_size
from edgekit.data.shapes import fed_whole, shown

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def load_calibration(
    path: str | Path,
    inputs: list[TensorSpec],
    image_range: tuple[float, float] = (0.0, 1.0),
    max_samples: int | None = None,
    min_samples: int = 1,
) -> dict[str, np.ndarray]:
    """Read a calibration set and return one checked array per model input, keyed by name.
    Nothing is decoded before its declared size is known to be within the data limit, and nothing
    but regular files and folders is opened."""
    path = Path(path)
    try:
        return _load_calibration(path, inputs, image_range, max_samples, min_samples)
    except OSError as exc:  # permissions, a link loop, a name too long: the user's path, not a bug
        raise unreadable(path, exc, "calibration data") from None


def _load_calibration(path: Path, inputs, image_range, max_samples, min_samples) -> dict[str, np.ndarray]:
    if not path.exists():
        raise EdgekitError(f"calibration data {path} does not exist: give a .npz, .npy or image folder")
    check_regular(path, "calibration data")
    if path.is_dir():
        arrays = _from_image_folder(path, inputs, image_range, max_samples)
    elif path.suffix == ".npz":
        arrays = _from_npz(path, inputs)
    elif path.suffix == ".npy":
        arrays = _from_npy(path, inputs)
    else:
        raise EdgekitError(f"calibration data {path}: unsupported format {path.suffix or '(none)'}; "
                           "use .npz, .npy or a folder of images")
    return check_calibration(path, arrays, inputs, max_samples, min_samples)


def check_calibration(path, arrays: dict, inputs: list[TensorSpec], max_samples=None, min_samples=1) -> dict:
    """The arrays checked against the model inputs and laid out as samples (data/shapes.py): a
    batch-first input's array is (N, *shape[1:]); an input fed whole is given once (its own rank,
    broadcast to every sample) or per sample (one more leading axis). Each is cast to the input's
    dtype (a quantized input's samples are floats: its spec says float32 then)."""
    counts, checked, once = set(), {}, []
    whole = fed_whole(inputs)
    for spec in inputs:
        array = arrays[spec.name]
        where = f"calibration data {path}" + (f" [{spec.name}]" if len(inputs) > 1 else "")
        if array.dtype.kind not in "fiub":
            raise EdgekitError(f"{where} has dtype {array.dtype}; it must be numeric (float, int or bool)")
        rank = len(spec.shape)
        if spec.name in whole:
            if array.ndim not in (rank, rank + 1) or not _fits(spec.shape, array.shape[array.ndim - rank:]):
                raise EdgekitError(f"{where} has shape {array.shape}; model input {spec.name!r} is fed whole: give it "
                                   f"once as {shown(spec.shape)} or per sample as (N, {shown(spec.shape)[1:-1]})")
            per_sample = array.ndim == rank + 1
        else:
            if array.ndim != rank or not _fits(spec.shape[1:], array.shape[1:]):
                raise EdgekitError(f"{where} has shape {array.shape}; model input {spec.name!r} needs "
                                   f"(N, {shown(spec.shape[1:])[1:-1]})")
            per_sample = True
        if per_sample:
            if len(array) == 0:
                raise EdgekitError(f"{where} is empty: it needs at least {min_samples} sample(s)")
            if len(array) < min_samples:
                raise EdgekitError(f"{where} has {len(array)} sample(s); calibration needs at least {min_samples} "
                                   "representative ones (a few hundred is better)")
            counts.add(len(array))
        else:
            once.append(spec.name)
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).reshape(len(array), -1).any(axis=1).sum()) if per_sample else 1
            raise EdgekitError(f"{where} has NaN or inf values in {bad} sample(s): clean or drop them")
        target = np.dtype(spec.dtype)
        if target.kind in "iub" and array.dtype.kind == "f":
            raise EdgekitError(f"{where} is {array.dtype} but input {spec.name!r} takes {target}")
        checked[spec.name] = (array[:max_samples] if per_sample else array).astype(target, copy=False)
    if len(counts) > 1:
        raise EdgekitError(f"calibration data {path}: inputs have different sample counts {sorted(counts)}")
    count = min(counts.pop(), max_samples or math.inf) if counts else 1
    for name in once:  # the same tensor for every sample, without a copy per sample
        checked[name] = np.broadcast_to(checked[name], (int(count), *checked[name].shape))
    return checked


def _fits(declared, given) -> bool:
    return len(declared) == len(given) and all(d is None or d == g for d, g in zip(declared, given))


def _from_npz(path: Path, inputs: list[TensorSpec]) -> dict:
    check_npz(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.files)
            if not keys:
                raise EdgekitError(f"calibration data {path} holds no arrays")
            names = [t.name for t in inputs]
            if len(keys) == 1 and len(names) == 1:
                return {names[0]: npz[keys[0]]}
            if sorted(keys) != sorted(names):
                raise EdgekitError(
                    f"calibration data {path} has arrays {', '.join(sorted(keys))}; "
                    f"expected one per model input: {', '.join(names)}"
                )
            return {k: npz[k] for k in names}
    except EdgekitError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
        raise EdgekitError(f"calibration data {path} is not a readable .npz ({exc})") from None


def _from_npy(path: Path, inputs: list[TensorSpec]) -> dict:
    if len(inputs) != 1:
        raise EdgekitError(f"calibration data {path}: a .npy holds one array but the model has "
                           f"{len(inputs)} inputs; use a .npz keyed by input name")
    try:
        with open(path, "rb") as fh:
            _check_npy_header(fh, path, path.stat().st_size)
        return {inputs[0].name: np.load(path, allow_pickle=False)}
    except EdgekitError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise EdgekitError(f"calibration data {path} is not a readable .npy ({exc})") from None


def _from_image_folder(folder: Path, inputs: list[TensorSpec], image_range, max_samples=None) -> dict:
    from PIL import Image

    if len(inputs) != 1 or len(inputs[0].shape) not in (3, 4):
        raise EdgekitError(f"calibration data {folder}: an image folder needs a model with one "
                           "image input (N, H, W) or (N, H, W, C)")
    spec = inputs[0]
    height, width = spec.shape[1], spec.shape[2]
    channels = spec.shape[3] if len(spec.shape) == 4 else None
    if height is None or width is None or channels not in (None, 1, 3, 4):
        raise EdgekitError(f"calibration data {folder}: model input {spec.name!r} has shape {spec.shape}; "
                           "images need a fixed height, width and 1, 3 or 4 channels")
    mode = {None: "L", 1: "L", 3: "RGB", 4: "RGBA"}[channels]
    files = []
    for entry in sorted(p for p in folder.rglob("*") if not p.name.startswith(".")):
        if entry.is_dir():
            continue
        name = entry.relative_to(folder)
        if not entry.exists():
            raise EdgekitError(f"calibration data {folder}: {name} is a link to nothing: remove it")
        kind = special_kind(entry)
        if kind:  # opening a FIFO blocks until someone writes to it
            raise EdgekitError(f"calibration data {folder}: {name} is {kind}, not an image file: remove it")
        if entry.suffix.lower() not in IMAGE_SUFFIXES:
            raise EdgekitError(f"calibration data {folder}: {name} is not an image "
                               f"(expected {', '.join(sorted(IMAGE_SUFFIXES))})")
        files.append(entry)
    files = files[:max_samples]  # only what will be used is decoded
    limits.check_data_size(folder, len(files) * height * width * (channels or 1) * 4)
    for file in files:  # every header first: a too-big image is refused before any is decoded
        with _open_image(folder, file) as img:
            _check_decoded_size(folder, file, img, mode)
    low, high = image_range
    images = []
    for file in files:
        with _open_image(folder, file) as img:
            try:
                pixels = np.asarray(img.convert(mode).resize((width, height), Image.BILINEAR))
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
                raise EdgekitError(f"calibration data {folder}: {file.name} cannot be read as an image "
                                   f"({first_line(exc)})") from None
        images.append(pixels.astype(np.float32) / 255.0 * (high - low) + low)
    if not images:
        raise EdgekitError(f"calibration data {folder} holds no images")
    array = np.stack(images)
    if channels == 1:
        array = array[..., None]
    return {spec.name: array}


@contextlib.contextmanager
def _open_image(folder: Path, file: Path):
    """An image opened lazily: Pillow reads the header (size, mode), nothing is decoded yet.
    Pillow's own decompression-bomb warning is silenced (the data limit is the bound here, and a
    warning is a second line on stderr); its error, for images past twice that, is one line."""
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(file)
        except Image.DecompressionBombError as exc:
            raise EdgekitError(f"calibration data {folder}: {file.name} has more pixels than Pillow will "
                               f"decode ({first_line(exc)}): shrink it") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise EdgekitError(f"calibration data {folder}: {file.name} cannot be read as an image "
                               f"({first_line(exc)})") from None
        with img:
            yield img


def _check_decoded_size(folder: Path, file: Path, img, mode: str) -> None:
    """Refuse an image whose decoding would pass the data limit, from its header alone: a tiny
    compressed file can declare 12000x12000 pixels. Only the first frame of an animated or
    multi-page image is decoded, so its size is what counts."""
    from PIL import ImageMode

    def pixel_bytes(name: str) -> int:  # what Pillow holds one pixel in: 1 byte, else 4 or more
        try:
            described = ImageMode.getmode(name)
            size = len(described.bands) * np.dtype(described.typestr).itemsize
        except (KeyError, TypeError, ValueError):
            size = 4
        return 1 if size == 1 else max(4, size)

    width, height = img.size
    decoded = width * height * (pixel_bytes(img.mode) + pixel_bytes(mode))  # the image and its converted copy
    limit = limits.current().data_bytes
    if decoded > limit:
        raise EdgekitError(f"calibration data {folder}: {file.name} is {width}x{height} pixels, "
                           f"{human_size(decoded)} to decode, over the {human_size(limit)} limit: shrink it or "
                           f"raise {limits.named('data_bytes')}")
