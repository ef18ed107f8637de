"""Labelled data sets for training and evaluating models: scikit-learn's digits, generated
stand-ins, real sets found in the local Keras cache, and a user's own `.npz`.

Nothing here downloads: real data is used only when it is already on disk (docs/DESIGN.md, pitfall 7).
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import numpy as np

from edgekit.core import limits
from edgekit.core.errors import EdgekitError, unreadable
from edgekit.core.files import check_npz, check_regular

TEST_FRACTION = 0.2


@dataclasses.dataclass
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray  # the training target: labels, values, or the inputs (autoencoder)
    x_test: np.ndarray
    y_test: np.ndarray  # what the held-out metric is computed against
    description: str  # what the data is, in words (the model card's "data")
    target: float | None = None  # overrides the recipe's target (e.g. a generated stand-in)
    note: str | None = None  # said to the user, e.g. why a generated stand-in is used


def split(x: np.ndarray, y: np.ndarray, seed: int, stratify: bool) -> tuple:
    """A deterministic (x_train, y_train, x_test, y_test) split holding out TEST_FRACTION."""
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=seed, stratify=y if stratify else None)
    return x_train, y_train, x_test, y_test


def digits(seed: int = 0) -> Dataset:
    """scikit-learn's handwritten digits (ships offline) as 8x8x1 images in [0, 1]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    return Dataset(*split(x, y, seed, stratify=True),
                   description="scikit-learn digits (1797 8x8 grayscale images, 10 classes), "
                               "pixels scaled to [0, 1]")


def load_labelled(path: str | Path, input_names: list[str], seed: int = 0) -> Dataset:
    """A user's training data: an `.npz` with the inputs (`x`, or one array per input name) and
    the targets (`y`). When it has no `x_test`/`y_test`, a fixed fifth is held out."""
    path = Path(path)
    try:
        if path.exists():
            check_regular(path, "training data", "an .npz with arrays x and y")  # a FIFO would block for ever
        if not path.is_file() or path.suffix != ".npz":
            raise EdgekitError(f"training data {path} is not an .npz file: save arrays x and y with "
                               "numpy.savez")
        check_npz(path)  # within the data limit, before anything is decoded
    except OSError as exc:
        raise unreadable(path, exc, "training data") from None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise EdgekitError(f"training data {path} is not a readable .npz ({exc})") from None
    x_key = "x" if "x" in arrays else (input_names[0] if len(input_names) == 1 else None)
    if len(input_names) != 1:
        raise EdgekitError(f"training data {path}: fine-tuning supports models with one input; "
                           f"this one has {len(input_names)}")
    if x_key not in arrays or "y" not in arrays:
        raise EdgekitError(f"training data {path} has arrays {', '.join(sorted(arrays)) or 'none'}; "
                           "it needs x (inputs) and y (targets)")
    x, y = arrays[x_key], arrays["y"]
    if len(x) != len(y) or len(x) < 10:
        raise EdgekitError(f"training data {path}: x has {len(x)} samples and y {len(y)}; they must "
                           "match and number at least 10")
    for name, array in (("x", x), ("y", y)):
        if array.dtype.kind not in "fiub":
            raise EdgekitError(f"training data {path}: {name} has dtype {array.dtype}; it must be numeric")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise EdgekitError(f"training data {path}: {name} has NaN or inf values")
    x = x.astype(np.float32, copy=False)
    if "x_test" in arrays and "y_test" in arrays:
        parts = (x, y, arrays["x_test"].astype(np.float32, copy=False), arrays["y_test"])
    else:
        parts = split(x, y, seed, stratify=False)
    return Dataset(*parts, description=f"{path.name} (user data)")


# --- data sets of the reference models beyond digits: generated stand-ins (deterministic from
# the seed, float32 inputs) and CIFAR-10 when it is already on disk -------------------------------


def _shuffled(rng: np.random.Generator, *arrays: np.ndarray) -> tuple:
    order = rng.permutation(len(arrays[0]))
    return tuple(a[order] for a in arrays)


def _holdout(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> tuple:
    """Shuffle, then hold out the last TEST_FRACTION (classes are generated in equal numbers)."""
    x, y = _shuffled(rng, x, y)
    n_train = len(x) - int(round(len(x) * TEST_FRACTION))
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def sine(seed: int = 0, samples: int = 2500, noise: float = 0.1) -> Dataset:
    """y = sin(x) for x uniform in [0, 2π], as in TFLite Micro's hello_world. The training
    targets carry Gaussian noise; the held-out targets are the clean sine, so the MAE says how
    well the curve was learnt rather than how noisy the labels are."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 2 * np.pi, (samples, 1)).astype(np.float32)
    clean = np.sin(x)
    noisy = (clean + noise * rng.standard_normal(x.shape)).astype(np.float32)
    n_test = int(round(samples * TEST_FRACTION))
    return Dataset(x[n_test:], noisy[n_test:], x[:n_test], clean[:n_test],
                   description=f"generated sine: {samples} x uniform in [0, 2π]; training targets "
                               f"sin(x) + N(0, {noise}²) noise, held-out targets the clean sin(x)")


IMAGE_CLASSES = ("disk", "square", "triangle", "ring", "cross", "horizontal stripes",
                 "vertical stripes", "diagonal stripes", "checkerboard", "gradient")


def _pattern(label: int, rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """How far inside the foreground each pixel is (in pixels; > 0.5 is fully inside)."""
    size = yy.shape[0]
    cy, cx = rng.uniform(size * 0.3, size * 0.7, 2)
    r = rng.uniform(size * 0.18, size * 0.34)
    dy, dx = yy - cy, xx - cx
    period, phase = rng.uniform(4.0, 9.0), rng.uniform(0, 2 * np.pi)

    def wave(u):
        return 2 * np.sin(2 * np.pi * u / period + phase)

    name = IMAGE_CLASSES[label]
    if name == "disk":
        return r - np.hypot(dy, dx)
    if name == "square":
        return 0.85 * r - np.maximum(np.abs(dy), np.abs(dx))
    if name == "triangle":
        return np.minimum(0.8 * r - dy, (dy + 0.8 * r) * 0.5 - np.abs(dx))
    if name == "ring":
        return 0.22 * r - np.abs(np.hypot(dy, dx) - 0.75 * r)
    if name == "cross":
        return np.minimum(r - np.maximum(np.abs(dy), np.abs(dx)),
                          0.28 * r - np.minimum(np.abs(dy), np.abs(dx)))
    if name == "horizontal stripes":
        return wave(yy)
    if name == "vertical stripes":
        return wave(xx)
    if name == "diagonal stripes":
        return wave((xx + yy * rng.choice([-1, 1])) / np.sqrt(2))
    if name == "checkerboard":
        return 2 * np.sign(wave(yy) * np.sin(2 * np.pi * xx / period + rng.uniform(0, 2 * np.pi)))
    angle = rng.uniform(0, 2 * np.pi)  # gradient: from one colour to the other across the image
    return (dx * np.cos(angle) + dy * np.sin(angle)) / size


def shapes(seed: int = 0, per_class: int = 600, size: int = 32) -> Dataset:
    """A 10-class colour image set standing in for CIFAR-10 (`IMAGE_CLASSES`): random colours,
    position, size, stripe period and phase, a small blob of another colour in half the images,
    pixel noise; stored at 8-bit levels in [0, 1] like a real image."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    images = []
    for label in range(len(IMAGE_CLASSES)):
        for _ in range(per_class):
            bg, fg = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
            while np.abs(fg - bg).sum() < 0.45:  # keep the pattern visible
                fg = rng.uniform(0, 1, 3)
            alpha = np.clip(_pattern(label, rng, yy, xx) + 0.5, 0, 1)[..., None]
            image = alpha * fg + (1 - alpha) * bg
            if rng.random() < 0.5:
                by, bx = rng.uniform(0, size, 2)
                blob = np.clip(rng.uniform(1.5, 3.5) - np.hypot(yy - by, xx - bx) + 0.5, 0, 1)[..., None]
                image = blob * rng.uniform(0, 1, 3) + (1 - blob) * image
            images.append(image + rng.normal(0, rng.uniform(0.03, 0.15), image.shape))
    x = (np.round(np.clip(np.stack(images), 0, 1) * 255) / 255).astype(np.float32)
    y = np.repeat(np.arange(len(IMAGE_CLASSES), dtype=np.int64), per_class)
    return Dataset(*_holdout(rng, x, y),
                   description=f"generated 10-class 32x32 RGB image set ({', '.join(IMAGE_CLASSES)}; "
                               f"{per_class} per class) with random colours, position, size, a "
                               "distracting blob and noise, pixels in [0, 1]")


CIFAR10_CACHE = ("cifar-10-batches-py",  # where tf-keras extracts it
                 "cifar-10-batches-py-target/cifar-10-batches-py")  # where Keras 3 does


def cifar10(data_path: str | Path | None = None) -> Dataset | None:
    """CIFAR-10 (50000 train, 10000 test images, pixels in [0, 1]) from `data_path`, a
    `cifar-10-batches-py` folder or `cifar-10-python.tar.gz`, or else from the local Keras cache.
    None when there is no `data_path` and the cache does not hold it; nothing is downloaded.

    The batches are Python pickles; they are read with an unpickler that builds only numpy
    arrays and plain containers, so a hostile file cannot run code. The archive is read in
    memory, never extracted."""
    import os
    import pickle
    import tarfile

    if data_path is None:
        cache = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets"
        found = [cache / sub for sub in CIFAR10_CACHE if (cache / sub / "test_batch").is_file()]
        if not found:
            return None
        data_path = found[0]
    path = Path(data_path)
    if (path / "cifar-10-batches-py").is_dir():  # the folder that holds it, e.g. ~/.keras/datasets
        path = path / "cifar-10-batches-py"
    hint = "give the cifar-10-batches-py folder or cifar-10-python.tar.gz"
    if not path.is_dir() and not (path.is_file() and path.name.endswith((".tar.gz", ".tgz"))):
        raise EdgekitError(f"CIFAR-10 data {path} is not a folder or a .tar.gz file: {hint}")
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {}
    unpacked = 0  # the batches' bytes: their arrays take that as uint8 and four times it as float32

    def within_limit(size: int) -> None:
        nonlocal unpacked
        unpacked += size
        limits.check_data_size(path, 5 * unpacked)

    try:
        if path.is_dir():
            for name in names:
                if (path / name).is_file():  # not a FIFO or a device
                    within_limit((path / name).stat().st_size)
                    with open(path / name, "rb") as f:
                        batches[name] = _arrays_only(f)
        else:
            with tarfile.open(path, "r:gz") as tar:
                for member in tar:
                    if member.isfile() and Path(member.name).name in names:
                        within_limit(member.size)  # as the header declares it, before unpacking
                        batches[Path(member.name).name] = _arrays_only(tar.extractfile(member))
        missing = [name for name in names if name not in batches]
        if missing:
            raise EdgekitError(f"CIFAR-10 data {path} lacks {', '.join(missing)}: {hint}")
        x, y = {}, {}
        for part, members in (("train", names[:5]), ("test", names[5:])):
            pixels = np.concatenate([np.asarray(batches[n][b"data"], np.uint8) for n in members])
            x[part] = (pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1) / np.float32(255)).astype(
                np.float32, copy=False)
            y[part] = np.concatenate([np.asarray(batches[n][b"labels"], np.int64) for n in members])
    except (OSError, EOFError, KeyError, ValueError, TypeError, pickle.UnpicklingError, tarfile.TarError) as exc:
        raise EdgekitError(f"CIFAR-10 data {path} cannot be read ({type(exc).__name__}: {exc}): {hint}") from None
    return Dataset(x["train"], y["train"], x["test"], y["test"],
                   description=f"CIFAR-10 ({len(y['train'])} train and {len(y['test'])} test 32x32 "
                               "RGB images, 10 classes), pixels scaled to [0, 1]")


# what a pickled numpy array needs (numpy 1 and 2 module names, and the bytes codec protocol 2
# uses); nothing else may be built
PICKLE_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
                  ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


def _arrays_only(file):
    """Unpickle a data batch, refusing any global but those that rebuild numpy arrays."""
    import importlib
    import pickle

    class ArraysOnly(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) not in PICKLE_GLOBALS:
                raise pickle.UnpicklingError(f"refused to load {module}.{name}: only numpy arrays are allowed")
            return getattr(importlib.import_module(module), name)

    return ArraysOnly(file, encoding="bytes").load()


SOUND_CLASSES = ("silence", "noise burst", "low tone", "mid tone", "high tone", "rising chirp",
                 "falling chirp", "rise-fall", "two tones", "beeps", "warble", "step up")


def spectrograms(seed: int = 0, per_class: int = 500, frames: int = 49, bins: int = 10) -> Dataset:
    """A 12-class keyword-spotting stand-in (`SOUND_CLASSES`): log-energy spectrograms of
    `frames` time frames x `bins` frequency bands, with random onset, length, pitch, bandwidth,
    loudness and background noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=np.float32)[:, None]
    f = np.arange(bins, dtype=np.float32)[None, :]
    top = bins - 1
    specs = []
    for label, name in enumerate(SOUND_CLASSES):
        for _ in range(per_class):
            start = rng.uniform(0, frames * 0.35)
            length = rng.uniform(frames * 0.4, frames * 0.65)
            u = np.clip((t - start) / length, 0, 1)  # 0 to 1 through the sound
            on = ((t >= start) & (t <= start + length)).astype(np.float32)
            shift, width = rng.normal(0, 0.5), rng.uniform(0.5, 0.9)

            def tone(pitch, gate=on):  # pitch: 0 (lowest band) to 1 (highest)
                return gate * np.exp(-0.5 * ((f - pitch * top - shift) / width) ** 2)

            if name == "silence":
                energy = 0 * on
            elif name == "noise burst":
                burst = rng.uniform(4, 10)
                energy = ((t >= start) & (t <= start + burst)) * rng.uniform(0.6, 1.0, (1, bins))
            elif name.endswith(" tone"):
                energy = tone({"low tone": 0.17, "mid tone": 0.47, "high tone": 0.77}[name])
            elif name == "rising chirp":
                energy = tone(0.1 + 0.75 * u)
            elif name == "falling chirp":
                energy = tone(0.85 - 0.75 * u)
            elif name == "rise-fall":
                energy = tone(0.15 + 0.7 * (1 - np.abs(2 * u - 1)))
            elif name == "two tones":
                energy = tone(0.2) + tone(0.75)
            elif name == "beeps":
                period = rng.uniform(7, 11)
                energy = tone(0.5, on * (((t - start) % period) < period / 2))
            elif name == "warble":
                energy = tone(0.5 + 0.2 * np.sin(2 * np.pi * u * rng.uniform(2, 3.5)))
            else:  # step up
                energy = tone(np.where(u < 0.5, 0.25, 0.7))
            loudness, floor = rng.uniform(0.2, 1.2), rng.uniform(0.1, 0.5)
            noise = np.abs(rng.normal(0, floor, (frames, bins)))
            specs.append(np.log1p(8 * (loudness * energy + noise)))
    x = np.stack(specs).astype(np.float32)[..., None]
    y = np.repeat(np.arange(len(SOUND_CLASSES), dtype=np.int64), per_class)
    return Dataset(*_holdout(rng, x, y),
                   description=f"generated 12-class keyword-spotting stand-in: {frames}x{bins} "
                               f"log-energy spectrograms ({', '.join(SOUND_CLASSES)}; "
                               f"{per_class} per class)")


ANOMALIES = ("shifted harmonics", "extra tone", "burst")


def machine_sounds(seed: int = 0, normal: int = 3000, test_normal: int = 500, test_anomalous: int = 500,
                   frames: int = 5, bins: int = 128) -> Dataset:
    """An anomaly-detection stand-in for MLPerf Tiny's ToyADMOS clips: `frames` x `bins` log
    spectra (flattened) of a machine humming at a base frequency with decaying harmonics over a
    noise floor. Training is on normal clips only (the targets are the inputs); the held-out set
    mixes normal and anomalous clips (one of `ANOMALIES` each), y_test = 1 for an anomaly."""
    rng = np.random.default_rng(seed)
    f = np.arange(bins, dtype=np.float32)
    harmonics = np.arange(1, 11)

    def clip(kind: str | None) -> np.ndarray:
        base = rng.uniform(9.0, 11.0)
        if kind == "shifted harmonics":  # running off its normal speed range
            base *= 1 + rng.choice([-1, 1]) * rng.uniform(0.07, 0.15)
        gains = harmonics ** -rng.uniform(0.6, 0.9) * rng.uniform(0.7, 1.0, harmonics.size)
        spectrum = np.zeros((frames, bins))
        for k, gain in zip(harmonics, gains):
            spectrum += (gain * rng.uniform(0.85, 1.15, (frames, 1))
                         * np.exp(-0.5 * ((f - k * base) / 1.5) ** 2))
        if kind == "extra tone":  # e.g. a bearing whining between the harmonics
            spectrum += rng.uniform(0.15, 0.5) * np.exp(-0.5 * ((f - rng.uniform(5, bins - 5)) / 1.5) ** 2)
        if kind == "burst":  # a knock: broadband energy in one frame
            spectrum[rng.integers(frames)] += rng.uniform(0.01, 0.06)
        noise = np.abs(rng.normal(0, 0.02, (frames, bins)))
        return (np.log10(spectrum + noise + 1e-3) / 3 + 1).reshape(-1)  # about [0, 1]

    x_train = np.stack([clip(None) for _ in range(normal)]).astype(np.float32)
    kinds = [None] * test_normal + [ANOMALIES[i % len(ANOMALIES)] for i in range(test_anomalous)]
    x_test = np.stack([clip(kind) for kind in kinds]).astype(np.float32)
    y_test = np.array([kind is not None for kind in kinds], dtype=np.int64)
    x_test, y_test = _shuffled(rng, x_test, y_test)
    return Dataset(x_train, x_train, x_test, y_test,
                   description=f"generated machine-sound stand-in: {frames}x{bins} log spectra "
                               f"(flattened to {frames * bins}) of a hum with harmonics; trained on "
                               f"{normal} normal clips, tested on {test_normal} normal and "
                               f"{test_anomalous} anomalous ones ({', '.join(ANOMALIES)})")
