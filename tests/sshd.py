"""OpenSSH's sshd on 127.0.0.1 for tests that reach a "board" over SSH: keys made in the test's
own folder, no system configuration touched."""

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.require import SSHD, require



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sshd(root: Path, port: int) -> subprocess.Popen:
    config = root / "sshd_config"
    config.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {root}/host_key
PidFile {root}/sshd.pid
AuthorizedKeysFile {root}/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
""")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder (made by its package's service)
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=open(root / "sshd.log", "ab"))
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.1)
    raise AssertionError((root / "sshd.log").read_text())


def stop_sshd(process: subprocess.Popen) -> None:
    """sshd and every connection it serves (each a child process of the listener)."""
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    process.kill()
    process.wait(timeout=10)
    for pid in children:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass



def make_board(root: Path, python: str, name: str = "board") -> dict:
    """Keys, a devices file naming the board `name` (reached with `python`) and a running sshd."""
    require("sshd")
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / key)], check=True)
    shutil.copy(root / "client_key.pub", root / "authorized_keys")
    port = free_port()
    devices = root / "devices.toml"
    devices.write_text(f"""[{name}]
ssh = "{getpass.getuser()}@127.0.0.1:{port}"
python = "{python}"
notes = "sshd started by the test"
ssh_options = ["-i", "{root}/client_key", "-o", "UserKnownHostsFile={root}/known_hosts",
               "-o", "StrictHostKeyChecking=accept-new"]
""")
    return {"root": root, "port": port, "devices": devices, "process": start_sshd(root, port)}
