"""Getting a person's attention when a wait of minutes ends: the terminal bell, and a
desktop notification where one is available (`notify-send` on PATH). Optional in every
way: nothing here waits, and nothing here fails."""

from __future__ import annotations

import os
import shutil
import subprocess

#: Notifications started (tests wait on them; nothing else looks).
spawned: list[subprocess.Popen[bytes]] = []


def desktop(title: str, body: str) -> bool:
    """Show a desktop notification through notify-send if it is on PATH (never waits);
    KEYTURN_NO_NOTIFY=1 turns it off. Whether one was started."""
    if os.environ.get("KEYTURN_NO_NOTIFY"):
        return False
    exe = shutil.which("notify-send")
    if exe is None:
        return False
    try:
        child = subprocess.Popen(
            [exe, "--app-name=keyturn", title, body], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return False
    spawned[:] = [p for p in spawned if p.poll() is None]
    spawned.append(child)
    return True
