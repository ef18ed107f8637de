"""Microcontroller budgets: the RAM and flash of real boards, and whether a model fits them.

A model fits when TFLite Micro's arena fits the RAM and the `.tflite` file fits the flash. Both
are the model's share only: the application, the interpreter's code, its kernels and the stack
need RAM and flash too, so the headroom is what is left for them, not spare.
"""

from __future__ import annotations

import dataclasses
import re

from edgekit.core.errors import EdgekitError, did_you_mean


@dataclasses.dataclass(frozen=True)
class Budget:
    name: str
    ram_bytes: int
    flash_bytes: int
    source: str = ""  # where the figures come from

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


KIB, MIB = 1024, 1024 * 1024

# On-chip SRAM and the flash the board boots from, from each vendor's datasheet or product page.
BOARDS = {b.name: b for b in (
    Budget("arduino-nano-33-ble-sense", 256 * KIB, 1 * MIB,
           "nRF52840: 256 KB RAM, 1 MB flash (Nordic nRF52840 product specification; Arduino ABX00031)"),
    Budget("raspberry-pi-pico", 264 * KIB, 2 * MIB,
           "RP2040: 264 KB SRAM; 2 MB QSPI flash on the board (Raspberry Pi Pico datasheet)"),
    Budget("esp32-s3-devkitc-1-n8", 512 * KIB, 8 * MIB,
           "ESP32-S3: 512 KB SRAM; 8 MB flash on the N8 module (Espressif ESP32-S3 datasheet)"),
    Budget("stm32f746g-disco", 320 * KIB, 1 * MIB,
           "STM32F746NG: 320 KB RAM, 1 MB flash on chip (ST DS10916; the board's SDRAM not counted)"),
    Budget("sparkfun-edge", 384 * KIB, 1 * MIB,
           "Ambiq Apollo3 Blue: 384 KB SRAM, 1 MB flash (SparkFun Edge, TensorFlow Lite Micro's first board)"),
)}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?)i?B?\s*$", re.IGNORECASE)


def parse_size(text: str, flag: str) -> int:
    """'256KB', '1MB', '1.5M', '4096' -> bytes (a KB is 1,024 bytes, as boards count memory)."""
    found = _SIZE.match(str(text))
    if not found:
        raise EdgekitError(f"{flag} {text!r} is not a size: write e.g. 256KB or 1MB")
    value = float(found.group(1)) * {"": 1, "K": KIB, "M": MIB, "G": 1024 * MIB}[found.group(2).upper()]
    if value <= 0:
        raise EdgekitError(f"{flag} {text!r} must be above zero")
    return int(value)


def budget(name: str | None = None, ram: str | None = None, flash: str | None = None) -> Budget | None:
    """The budget `--mcu NAME` or `--mcu-ram`/`--mcu-flash` name (either overrides the board's)."""
    if name is None and ram is None and flash is None:
        return None
    if name is not None and name not in BOARDS:
        raise EdgekitError(f"--mcu {name} is not a board edgekit knows{did_you_mean(name, BOARDS)}: use one of {', '.join(BOARDS)}, or give --mcu-ram and --mcu-flash")
    board = BOARDS.get(name)
    if board is None and (ram is None or flash is None):
        raise EdgekitError("--mcu-ram and --mcu-flash go together (or with --mcu NAME, to override its figures)")
    return Budget(name or "custom",
                  parse_size(ram, "--mcu-ram") if ram is not None else board.ram_bytes,
                  parse_size(flash, "--mcu-flash") if flash is not None else board.flash_bytes,
                  board.source if board and ram is None and flash is None else "given on the command line")


def fit(arena_bytes: int, flash_bytes: int, within: Budget) -> dict:
    """Whether a model with this arena and file size fits, and what is left of each."""
    ram_left, flash_left = within.ram_bytes - arena_bytes, within.flash_bytes - flash_bytes
    return {"board": within.name, "fits": ram_left >= 0 and flash_left >= 0,
            "ram_headroom_bytes": ram_left, "flash_headroom_bytes": flash_left}
