"""Units a person reads: sizes in B, KB, MB and GB; tensor shapes as 1x64x64x3."""


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def shape_text(shape) -> str:
    """A tensor shape as 1x64x64x3, ? for a free dimension (None, or -1 as TFLite writes it)."""
    return "x".join("?" if d is None or d == -1 else str(d) for d in shape)
