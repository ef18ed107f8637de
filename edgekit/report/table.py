"""Plain-text tables for the terminal."""

from __future__ import annotations


def render(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def conversion_table(manifest: dict) -> str:
    """One row per artifact: size, ratio to the float model, and fidelity against it."""
    source = manifest["source"]
    rows = [[f"{manifest['name']} (float {source['flavour']})", "float32", human_size(source["size_bytes"]),
             "1.00x", "-", "-", "-"]]
    for a in manifest["artifacts"]:
        fid = a["fidelity"]
        top1 = "-" if fid["top1_agreement"] is None else f"{fid['top1_agreement']:.1%}"
        rows.append([a["path"], a["variant"], human_size(a["size_bytes"]),
                     f"{a['size_bytes'] / source['size_bytes']:.2f}x",
                     f"{fid['max_abs']:.2e}", f"{fid['sqnr_db']:.1f}", top1])
    for f in manifest["failed"]:
        rows.append([f"{f['format']} {f['variant']}", "failed", "-", "-", "-", "-", f["reason"]])
    headers = ["artifact", "variant", "size", "vs float", "max-abs", "SQNR dB", "top-1 agree"]
    samples = manifest["calibration"]["samples"]
    return (render(headers, rows, right={2, 3, 4, 5, 6})
            + f"\nfidelity against the float model on {samples} calibration samples")
